#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace mg::registry {

// Encryption at rest (docs/contracts.md "Model protection"): artifacts are stored AES-256-GCM
// encrypted under a data key derived with HKDF-SHA256 from the data dir's master key. The
// content address stays the plaintext's SHA-256. A stored file is
//     "MGAEAD01" | key id (8 bytes) | nonce (12 bytes, random per artifact) | ciphertext | tag (16)
// and decrypts only in memory. The key id (the first 8 bytes of SHA-256 of the data key)
// tells which key a file needs, so a store can read under the old and new keys while a
// master key rotation is under way.
struct DataKey {
  std::array<unsigned char, 32> key{};
  std::array<unsigned char, 8> id{};
};

inline constexpr std::size_t kCipherHeaderBytes = 8 + 8 + 12;
inline constexpr std::size_t kCipherTagBytes = 16;

DataKey derive_artifact_key(const std::array<unsigned char, 32>& master_key);

// True when a file starts like an encrypted artifact (`head`: its first bytes).
bool is_encrypted_artifact(std::span<const std::byte> head);

// Streaming AES-256-GCM for one artifact.
class ArtifactEncryptor {
 public:
  explicit ArtifactEncryptor(const DataKey& key);  // draws a fresh nonce
  ~ArtifactEncryptor();
  ArtifactEncryptor(const ArtifactEncryptor&) = delete;
  ArtifactEncryptor& operator=(const ArtifactEncryptor&) = delete;

  const std::vector<std::byte>& header() const { return header_; }
  // Ciphertext of `plain`, as long as it.
  void update(std::span<const std::byte> plain, std::vector<std::byte>& out);
  std::array<std::byte, kCipherTagBytes> finish();

 private:
  struct Context;
  Context* ctx_;
  std::vector<std::byte> header_;
};

// Decrypts a whole stored file in place: on return `file` holds the plaintext. Throws
// RegistryError(kInvalidArgument) naming the artifact when no key matches its key id or the
// file was altered (the tag does not verify).
void decrypt_artifact_in_place(std::vector<std::byte>& file, const std::vector<DataKey>& keys,
                               const std::string& digest);

}  // namespace mg::registry
