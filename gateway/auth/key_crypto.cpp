#include "gateway/auth/key_crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <stdexcept>

#include "modelgate/hex.h"

namespace mg::gateway {
namespace {

constexpr std::size_t kNonce = 12, kTag = 16;

// HMAC-SHA256 into `out`; false when OpenSSL fails (then `out` must not be used).
bool hmac_into(const void* key, std::size_t key_size, std::string_view message,
               std::array<unsigned char, 32>& out) {
  unsigned int size = 0;
  return key_size <= 1024 &&
         HMAC(EVP_sha256(), key, static_cast<int>(key_size),
              reinterpret_cast<const unsigned char*>(message.data()), message.size(), out.data(),
              &size) != nullptr &&
         size == out.size();
}

std::array<unsigned char, 32> hmac(const unsigned char* key, std::size_t key_size,
                                   std::string_view message) {
  std::array<unsigned char, 32> out{};
  if (!hmac_into(key, key_size, message, out)) throw std::runtime_error("HMAC-SHA256 failed");
  return out;
}

using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<std::string> hmac_sha256_hex(std::string_view key, std::string_view message) {
  std::array<unsigned char, 32> mac{};
  if (!hmac_into(key.data(), key.size(), message, mac)) return std::nullopt;
  return modelgate::to_hex(mac.data(), mac.size());
}

struct KeyCrypto::PreparedMac {
  EVP_MAC* mac = nullptr;
  EVP_MAC_CTX* ctx = nullptr;
  ~PreparedMac() {
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
  }
};

KeyCrypto::KeyCrypto(const std::array<unsigned char, 32>& master) {
  hash_key_ = hmac(master.data(), master.size(), "modelgate api-key hash v1");
  seal_key_ = hmac(master.data(), master.size(), "modelgate api-key seal v1");
  auto prepared = std::make_shared<PreparedMac>();
  prepared->mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  prepared->ctx = prepared->mac ? EVP_MAC_CTX_new(prepared->mac) : nullptr;
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_construct_end()};
  if (prepared->ctx == nullptr ||
      EVP_MAC_init(prepared->ctx, hash_key_.data(), hash_key_.size(), params) != 1) {
    throw std::runtime_error("HMAC-SHA256 setup failed");
  }
  hash_mac_ = std::move(prepared);
}

KeyCrypto KeyCrypto::from_file(const std::filesystem::path& path) {
  std::array<unsigned char, 32> master = read_master_key(path);
  KeyCrypto crypto(master);
  OPENSSL_cleanse(master.data(), master.size());
  return crypto;
}

std::array<unsigned char, 32> KeyCrypto::read_master_key(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string hex;
  in >> hex;
  std::array<unsigned char, 32> master{};
  bool ok = hex.size() == 64;
  for (std::size_t i = 0; ok && i < 32; ++i) {
    const int high = hex_digit(hex[2 * i]), low = hex_digit(hex[2 * i + 1]);
    ok = high >= 0 && low >= 0;
    master[i] = static_cast<unsigned char>(high * 16 + low);
  }
  if (!ok) {
    throw std::runtime_error("master key " + path.string() +
                             " is missing or not 64 hex characters");
  }
  return master;
}

std::string KeyCrypto::hash_key(std::string_view full_key) const {
  std::unique_ptr<EVP_MAC_CTX, decltype(&EVP_MAC_CTX_free)> ctx(EVP_MAC_CTX_dup(hash_mac_->ctx),
                                                                EVP_MAC_CTX_free);
  std::string digest(32, '\0');
  std::size_t size = 0;
  if (!ctx ||
      EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(full_key.data()),
                     full_key.size()) != 1 ||
      EVP_MAC_final(ctx.get(), reinterpret_cast<unsigned char*>(digest.data()), &size,
                    digest.size()) != 1 ||
      size != digest.size()) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  return digest;
}

std::string KeyCrypto::seal(std::string_view plaintext, std::string_view context) const {
  std::string box(kNonce + plaintext.size() + kTag, '\0');
  auto* out = reinterpret_cast<unsigned char*>(box.data());
  if (RAND_bytes(out, kNonce) != 1) throw std::runtime_error("no randomness for sealing");
  CipherContext ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int n = 0;
  bool ok =
      ctx && EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, seal_key_.data(), out) == 1;
  ok = ok && EVP_EncryptUpdate(ctx.get(), nullptr, &n, bytes(context),
                               static_cast<int>(context.size())) == 1;
  ok = ok && EVP_EncryptUpdate(ctx.get(), out + kNonce, &n, bytes(plaintext),
                               static_cast<int>(plaintext.size())) == 1;
  ok = ok && EVP_EncryptFinal_ex(ctx.get(), out + kNonce + n, &n) == 1;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTag,
                                 out + kNonce + plaintext.size()) == 1;
  if (!ok) throw std::runtime_error("AES-256-GCM sealing failed");
  return box;
}

std::optional<std::string> KeyCrypto::open(std::string_view sealed,
                                           std::string_view context) const {
  if (sealed.size() < kNonce + kTag) return std::nullopt;
  const std::size_t size = sealed.size() - kNonce - kTag;
  std::string plain(size, '\0');
  auto* out = reinterpret_cast<unsigned char*>(plain.data());
  std::array<unsigned char, kTag> tag{};
  std::copy_n(bytes(sealed) + kNonce + size, kTag, tag.data());
  CipherContext ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int n = 0;
  bool ok = ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, seal_key_.data(),
                                      bytes(sealed)) == 1;
  ok = ok && EVP_DecryptUpdate(ctx.get(), nullptr, &n, bytes(context),
                               static_cast<int>(context.size())) == 1;
  ok = ok &&
       EVP_DecryptUpdate(ctx.get(), out, &n, bytes(sealed) + kNonce, static_cast<int>(size)) == 1;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTag, tag.data()) == 1;
  ok = ok && EVP_DecryptFinal_ex(ctx.get(), out + n, &n) == 1;
  if (!ok) {
    OPENSSL_cleanse(plain.data(), plain.size());
    return std::nullopt;
  }
  return plain;
}

}  // namespace mg::gateway
