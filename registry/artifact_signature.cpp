#include "registry/artifact_signature.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>
#include <sstream>
#include <vector>

#include "modelgate/hex.h"
#include "registry/registry_error.h"
#include "registry/sha256.h"

namespace mg::registry {
namespace {

using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using Context = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

RegistryError invalid(const std::string& message) {
  return RegistryError(RegistryError::Code::kInvalidArgument, message);
}

std::string message_for(const std::string& digest) {
  return "modelgate-artifact-v1\nsha256:" + digest;
}

bool from_hex(std::string_view hex, std::string& out) {
  auto value = [](char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
  };
  if (hex.size() % 2 != 0) return false;
  out.clear();
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int high = value(hex[i]), low = value(hex[i + 1]);
    if (high < 0 || low < 0) return false;
    out.push_back(static_cast<char>(high * 16 + low));
  }
  return true;
}

Key read_key(const std::string& pem, bool is_private) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  EVP_PKEY* key = is_private ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
                             : PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  if (key == nullptr || EVP_PKEY_id(key) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(key);
    throw invalid(std::string("not an Ed25519 ") + (is_private ? "private" : "public") +
                  " key in PEM form");
  }
  return Key(key, EVP_PKEY_free);
}

std::string fingerprint_of(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int size = i2d_PUBKEY(key, &der);
  if (size <= 0) throw invalid("cannot encode the public key");
  const std::string bytes(reinterpret_cast<const char*>(der), static_cast<std::size_t>(size));
  OPENSSL_free(der);
  return sha256_hex(std::as_bytes(std::span(bytes.data(), bytes.size())));
}

bool is_hex_digest(std::string_view text) {
  std::string ignored;
  return text.size() == 64 && from_hex(text, ignored);
}

}  // namespace

std::string format_signature(const ArtifactSignature& s) {
  return "modelgate-signature v1\nalgorithm ed25519\ndigest sha256:" + s.digest +
         "\npublic-key sha256:" + s.public_key + "\nsignature " +
         modelgate::to_hex(s.signature.data(), s.signature.size()) + "\n";
}

ArtifactSignature parse_signature(std::string_view text) {
  if (text.size() > 4096) throw invalid("a signature file is a few hundred bytes; this is not one");
  std::istringstream lines{std::string(text)};
  std::string line;
  std::vector<std::string> fields;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) fields.push_back(line);
  }
  auto field = [&](std::size_t index, std::string_view prefix) -> std::string {
    if (index >= fields.size()) {
      throw invalid("the signature file is truncated: no '" + std::string(prefix) + "' line");
    }
    if (!fields[index].starts_with(prefix)) {
      throw invalid("signature file line " + std::to_string(index + 1) + " should start with '" +
                    std::string(prefix) + "'");
    }
    return fields[index].substr(prefix.size());
  };
  if (field(0, "modelgate-signature ") != "v1") throw invalid("unknown signature file version");
  if (field(1, "algorithm ") != "ed25519") throw invalid("unsupported signature algorithm");
  ArtifactSignature s;
  s.digest = field(2, "digest sha256:");
  s.public_key = field(3, "public-key sha256:");
  const std::string signature_hex = field(4, "signature ");
  if (!is_hex_digest(s.digest)) throw invalid("the digest is not 64 lowercase hex characters");
  if (!is_hex_digest(s.public_key)) {
    throw invalid("the public-key fingerprint is not 64 lowercase hex characters");
  }
  if (signature_hex.size() != 128 || !from_hex(signature_hex, s.signature)) {
    throw invalid("the signature is not 128 lowercase hex characters");
  }
  if (fields.size() != 5) throw invalid("unexpected lines after the signature");
  return s;
}

ArtifactSignature sign_digest(const std::string& digest_hex, const std::string& private_key_pem) {
  if (!is_hex_digest(digest_hex)) throw invalid("the digest is not 64 lowercase hex characters");
  Key key = read_key(private_key_pem, true);
  const std::string message = message_for(digest_hex);
  Context ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  unsigned char signature[64];
  std::size_t size = sizeof signature;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), signature, &size,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    throw invalid("Ed25519 signing failed");
  }
  return ArtifactSignature{digest_hex, fingerprint_of(key.get()),
                           std::string(reinterpret_cast<const char*>(signature), size)};
}

bool verify_signature(const ArtifactSignature& s, const std::string& public_key_pem) {
  Key key = read_key(public_key_pem, false);
  if (fingerprint_of(key.get()) != s.public_key) return false;
  const std::string message = message_for(s.digest);
  Context ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(s.signature.data()),
                          s.signature.size(),
                          reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

std::string public_key_fingerprint(const std::string& public_key_pem) {
  Key key = read_key(public_key_pem, false);
  return fingerprint_of(key.get());
}

}  // namespace mg::registry
