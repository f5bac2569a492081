#include "registry/sha256.h"

#include <openssl/evp.h>

#include "modelgate/hex.h"
#include "registry/registry_error.h"

namespace mg::registry {

struct Sha256::Context {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Context() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : context_(std::make_unique<Context>()) {
  if (context_->ctx == nullptr || EVP_DigestInit_ex(context_->ctx, EVP_sha256(), nullptr) != 1) {
    throw RegistryError(RegistryError::Code::kIo, "sha256: cannot initialise OpenSSL digest");
  }
}

Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(std::span<const std::byte> data) {
  if (EVP_DigestUpdate(context_->ctx, data.data(), data.size()) != 1) {
    throw RegistryError(RegistryError::Code::kIo, "sha256: digest update failed");
  }
}

std::string Sha256::hex_digest() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(context_->ctx, digest, &length) != 1) {
    throw RegistryError(RegistryError::Code::kIo, "sha256: digest final failed");
  }
  return modelgate::to_hex(digest, length);
}

std::string Sha256::peek_hex_digest() const {
  Sha256 copy;
  if (EVP_MD_CTX_copy_ex(copy.context_->ctx, context_->ctx) != 1) {
    throw RegistryError(RegistryError::Code::kIo, "sha256: digest copy failed");
  }
  return copy.hex_digest();
}

std::string sha256_hex(std::span<const std::byte> data) {
  Sha256 hasher;
  hasher.update(data);
  return hasher.hex_digest();
}

bool is_sha256_hex(const std::string& text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace mg::registry
