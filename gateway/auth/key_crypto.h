#pragma once

#include <array>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace mg::gateway {

// HMAC-SHA256(key, message) as 64 lowercase hex characters; nullopt when OpenSSL fails
// (the caller must then refuse, never compare).
std::optional<std::string> hmac_sha256_hex(std::string_view key, std::string_view message);

// Secrets derived from the data dir's master key (docs/contracts.md "Authentication" and "Model
// protection"): a keyed hash for API key checks and an AES-256-GCM key for sealing key
// secrets. Without the master key file, neither can be computed, so a copy of the database
// alone cannot authenticate. Each purpose has its own key, derived as
// HMAC-SHA256(master, label), so one use never weakens another.
class KeyCrypto {
 public:
  explicit KeyCrypto(const std::array<unsigned char, 32>& master);
  // Reads the master key file (64 hex characters); throws std::runtime_error.
  static KeyCrypto from_file(const std::filesystem::path& path);
  static std::array<unsigned char, 32> read_master_key(const std::filesystem::path& path);

  // HMAC-SHA256 of a full API key under the hash key: 32 raw bytes.
  // Throws std::runtime_error when OpenSSL fails.
  std::string hash_key(std::string_view full_key) const;
  // AES-256-GCM: 12-byte random nonce, ciphertext, 16-byte tag. `context` is
  // authenticated (the key id), so a sealed secret cannot be moved to another key.
  std::string seal(std::string_view plaintext, std::string_view context) const;
  // nullopt when the box was altered, truncated or sealed for another context or master.
  std::optional<std::string> open(std::string_view sealed, std::string_view context) const;

 private:
  std::array<unsigned char, 32> hash_key_{};
  std::array<unsigned char, 32> seal_key_{};
  // HMAC-SHA256 keyed with hash_key_, set up once: each hash_key() copies it (a third of
  // the cost of a one-shot HMAC(), which fetches the algorithm and sets the key each time).
  struct PreparedMac;
  std::shared_ptr<const PreparedMac> hash_mac_;
};

}  // namespace mg::gateway
