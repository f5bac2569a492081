#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <span>
#include <string>

namespace mg::registry {

// Incremental SHA-256 (OpenSSL EVP). Feed with update(), read the digest once with
// hex_digest().
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;

  void update(std::span<const std::byte> data);
  // Lowercase hex of the digest; the hasher cannot be updated afterwards.
  std::string hex_digest();
  // The digest of what was fed so far, leaving the hasher usable.
  std::string peek_hex_digest() const;

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

std::string sha256_hex(std::span<const std::byte> data);

// True for 64 lowercase hex characters: the only digest form the registry accepts.
bool is_sha256_hex(const std::string& text);

}  // namespace mg::registry
