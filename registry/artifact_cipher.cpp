#include "registry/artifact_cipher.h"

#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "modelgate/hex.h"
#include "registry/registry_error.h"
#include "registry/sha256.h"

namespace mg::registry {
namespace {

constexpr char kMagic[8] = {'M', 'G', 'A', 'E', 'A', 'D', '0', '1'};
constexpr std::size_t kNonceBytes = 12;
// EVP's update calls take an int length: data goes through them in pieces of at most
// this, so artifacts past 2 GiB (uploads allow 16 GiB) encrypt and decrypt too.
constexpr std::size_t kCipherPieceBytes = std::size_t{1} << 30;

RegistryError cipher_error(const std::string& message) {
  return RegistryError(RegistryError::Code::kInvalidArgument, message);
}

}  // namespace

DataKey derive_artifact_key(const std::array<unsigned char, 32>& master_key) {
  DataKey key;
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr), EVP_PKEY_CTX_free);
  static constexpr unsigned char kInfo[] = "modelgate artifact key v1";
  std::size_t size = key.key.size();
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_hkdf_md(ctx.get(), EVP_sha256()) != 1 ||
      EVP_PKEY_CTX_set1_hkdf_key(ctx.get(), master_key.data(), master_key.size()) != 1 ||
      EVP_PKEY_CTX_add1_hkdf_info(ctx.get(), kInfo, sizeof kInfo - 1) != 1 ||
      EVP_PKEY_derive(ctx.get(), key.key.data(), &size) != 1) {
    throw cipher_error("HKDF failed deriving the artifact key");
  }
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(key.key.data(), key.key.size(), digest);
  std::copy_n(digest, key.id.size(), key.id.data());
  return key;
}

bool is_encrypted_artifact(std::span<const std::byte> head) {
  return head.size() >= sizeof kMagic && std::memcmp(head.data(), kMagic, sizeof kMagic) == 0;
}

struct ArtifactEncryptor::Context {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  ~Context() { EVP_CIPHER_CTX_free(ctx); }
};

ArtifactEncryptor::ArtifactEncryptor(const DataKey& key) : ctx_(new Context) {
  unsigned char nonce[kNonceBytes];
  if (RAND_bytes(nonce, sizeof nonce) != 1) {
    delete ctx_;
    throw cipher_error("no randomness for an artifact nonce");
  }
  header_.resize(kCipherHeaderBytes);
  std::memcpy(header_.data(), kMagic, sizeof kMagic);
  std::memcpy(header_.data() + 8, key.id.data(), key.id.size());
  std::memcpy(header_.data() + 16, nonce, sizeof nonce);
  if (ctx_->ctx == nullptr ||
      EVP_EncryptInit_ex(ctx_->ctx, EVP_aes_256_gcm(), nullptr, key.key.data(), nonce) != 1) {
    delete ctx_;
    throw cipher_error("AES-256-GCM setup failed");
  }
}

ArtifactEncryptor::~ArtifactEncryptor() { delete ctx_; }

void ArtifactEncryptor::update(std::span<const std::byte> plain, std::vector<std::byte>& out) {
  out.resize(plain.size());
  for (std::size_t at = 0; at < plain.size(); at += kCipherPieceBytes) {
    const std::size_t piece = std::min(kCipherPieceBytes, plain.size() - at);
    int n = 0;
    if (EVP_EncryptUpdate(ctx_->ctx, reinterpret_cast<unsigned char*>(out.data() + at), &n,
                          reinterpret_cast<const unsigned char*>(plain.data() + at),
                          static_cast<int>(piece)) != 1 ||
        static_cast<std::size_t>(n) != piece) {
      throw cipher_error("AES-256-GCM encryption failed");
    }
  }
}

std::array<std::byte, kCipherTagBytes> ArtifactEncryptor::finish() {
  std::array<std::byte, kCipherTagBytes> tag{};
  unsigned char ignored[16];
  int n = 0;
  if (EVP_EncryptFinal_ex(ctx_->ctx, ignored, &n) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx_->ctx, EVP_CTRL_GCM_GET_TAG, static_cast<int>(tag.size()),
                          tag.data()) != 1) {
    throw cipher_error("AES-256-GCM finalisation failed");
  }
  return tag;
}

void decrypt_artifact_in_place(std::vector<std::byte>& file, const std::vector<DataKey>& keys,
                               const std::string& digest) {
  if (!is_encrypted_artifact(file) || file.size() < kCipherHeaderBytes + kCipherTagBytes) {
    throw cipher_error("artifact " + digest + " is not a complete encrypted artifact");
  }
  const auto* raw = reinterpret_cast<unsigned char*>(file.data());
  const DataKey* key = nullptr;
  for (const auto& k : keys) {
    if (std::memcmp(k.id.data(), raw + 8, k.id.size()) == 0) key = &k;
  }
  if (key == nullptr) {
    throw cipher_error("artifact " + digest + " is encrypted under key " +
                       modelgate::to_hex(raw + 8, 8) +
                       ", which this data dir's master key does not give (wrong master.key?)");
  }
  const std::size_t size = file.size() - kCipherHeaderBytes - kCipherTagBytes;
  unsigned char tag[kCipherTagBytes];
  std::memcpy(tag, raw + kCipherHeaderBytes + size, sizeof tag);
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                      EVP_CIPHER_CTX_free);
  unsigned char* data = reinterpret_cast<unsigned char*>(file.data()) + kCipherHeaderBytes;
  int n = 0;
  // GCM decrypts in place (out == in); the plaintext then moves to the front.
  bool ok = ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key->key.data(),
                                      raw + 16) == 1;
  for (std::size_t at = 0; ok && at < size; at += kCipherPieceBytes) {
    const std::size_t piece = std::min(kCipherPieceBytes, size - at);
    ok = EVP_DecryptUpdate(ctx.get(), data + at, &n, data + at, static_cast<int>(piece)) == 1 &&
         static_cast<std::size_t>(n) == piece;
  }
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, sizeof tag, tag) == 1;
  unsigned char ignored[16];
  ok = ok && EVP_DecryptFinal_ex(ctx.get(), ignored, &n) == 1;
  if (!ok) {
    throw cipher_error("artifact " + digest +
                       " does not decrypt: the file was altered or the key is wrong");
  }
  std::memmove(file.data(), data, size);
  file.resize(size);
}

}  // namespace mg::registry
