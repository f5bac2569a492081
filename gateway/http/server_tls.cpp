#include "gateway/http/server_tls.h"

#include <openssl/err.h>

#include <stdexcept>
#include <string>

namespace mg::gateway {
namespace {

constexpr char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

std::string openssl_error() {
  char text[256] = "unknown error";
  if (const unsigned long code = ERR_get_error(); code != 0)
    ERR_error_string_n(code, text, sizeof text);
  ERR_clear_error();
  return text;
}

}  // namespace

void configure_server_tls(SSL_CTX* context, const std::filesystem::path& certificate,
                          const std::filesystem::path& private_key) {
  SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
  SSL_CTX_set_options(context, SSL_OP_ALL | SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_set_cipher_list(context, kTls12Ciphers) != 1)
    throw std::runtime_error("the TLS 1.2 cipher list was refused by OpenSSL");
  if (SSL_CTX_use_certificate_chain_file(context, certificate.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(context, private_key.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(context) != 1) {
    throw std::runtime_error("TLS certificate or key unusable (" + certificate.string() + ", " +
                             private_key.string() + "): " + openssl_error());
  }
}

}  // namespace mg::gateway
