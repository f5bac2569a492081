#include "gateway/main/self_signed.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <memory>
#include <stdexcept>

namespace mg::gateway {
namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using Key = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using Ext = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;

struct File {
  FILE* f;
  ~File() {
    if (f) std::fclose(f);
  }
};

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("creating the TLS certificate: ") + what);
}

}  // namespace

void write_self_signed_certificate(const std::filesystem::path& certificate,
                                   const std::filesystem::path& private_key) {
  Key key(EVP_EC_gen("P-256"));
  check(key != nullptr, "key generation failed");
  Cert cert(X509_new());
  check(cert != nullptr, "out of memory");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), static_cast<long>(std::time(nullptr)));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 365L * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1"},
                            std::pair{NID_basic_constraints, "critical,CA:FALSE"},
                            std::pair{NID_ext_key_usage, "serverAuth"}}) {
    Ext ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
    check(ext && X509_add_ext(cert.get(), ext.get(), -1) == 1, "extension");
  }
  check(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0, "signing failed");

  const mode_t old_mask = ::umask(077);  // the key file is created 0600
  File key_file{std::fopen(private_key.c_str(), "wx")};
  ::umask(old_mask);
  check(key_file.f != nullptr, "cannot create the key file");
  check(PEM_write_PrivateKey(key_file.f, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1,
        "writing the key");
  File cert_file{std::fopen(certificate.c_str(), "wx")};
  check(cert_file.f != nullptr, "cannot create the certificate file");
  check(PEM_write_X509(cert_file.f, cert.get()) == 1, "writing the certificate");
}

}  // namespace mg::gateway
