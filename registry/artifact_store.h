#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "registry/artifact_cipher.h"
#include "registry/sha256.h"

namespace mg::registry {

class BackgroundHasher;

struct StoredArtifact {
  std::string digest;  // lowercase hex SHA-256 of the content
  uint64_t size = 0;
};

// Content-addressed files under <root>/sha256/<2 hex>/<62 hex>, written crash-safely:
// content goes to a temp file in <root>/tmp (same file system), is hashed as it is
// written, fsynced, and only then renamed to its final name, whose directory is fsynced.
// So a file under a final name is always complete; a crash leaves at most a temp file,
// which remove_temp_files() deletes. Identical content is stored once. Final files are
// read-only (0444). Thread-safe: distinct writers and readers may run concurrently.
class ArtifactStore {
 public:
  class Writer;
  class Reader;

  // Creates <root>, <root>/sha256 and <root>/tmp as needed.
  explicit ArtifactStore(std::filesystem::path root);

  // Encryption at rest: with keys, new artifacts are written encrypted under keys[0] and
  // reads decrypt under whichever key a file names; without, files are plaintext. Set
  // before use (the registry does it at open).
  void set_keys(std::vector<DataKey> keys) { keys_ = std::move(keys); }
  bool encrypts() const { return !keys_.empty(); }
  // Whether the stored file of this artifact is encrypted, and under which key id.
  bool is_encrypted(const std::string& digest) const;
  std::optional<std::array<unsigned char, 8>> key_id_of(const std::string& digest) const;
  // Rewrites an artifact under keys[0] (crash-safe: temp file, fsync, atomic rename over
  // the old file), e.g. after a master key rotation. Verifies the content first.
  void reencrypt(const std::string& digest);

  // Starts a streaming write into a new temp file. Throws RegistryError(kIo).
  Writer begin_write();
  // Writes a whole buffer (begin_write + write + commit).
  StoredArtifact put(std::span<const std::byte> content,
                     const std::optional<std::string>& expected_digest = std::nullopt);

  // Stores an artifact file exactly as another store wrote it (encryption header and all),
  // from chunks next_chunk fills until it returns false: how a cluster replica fills its
  // local cache from the shared database. Not verified here: read() and open() verify the
  // digest on use, as for every file. Crash-safe like a write (temp file, fsync, rename).
  void install_stored(const std::string& digest,
                      const std::function<bool(std::string&)>& next_chunk);

  // The final path for a digest (which must be lowercase hex SHA-256).
  std::filesystem::path path_of(const std::string& digest) const;
  bool contains(const std::string& digest) const;
  // The whole content, decrypted in memory if stored encrypted, verified against its
  // digest: a mismatch throws kDigestMismatch, a missing file kNotFound, an undecryptable
  // one kInvalidArgument.
  std::vector<std::byte> read(const std::string& digest) const;
  // A streaming read whose last read() verifies the digest (plaintext files only).
  Reader open(const std::string& digest) const;

  // Every digest with a file under its final name.
  std::vector<std::string> list() const;
  // Deletes one artifact file (no-op when absent).
  void remove(const std::string& digest);
  // Deletes leftover temp files of interrupted writes; returns how many. Only safe when
  // no writer of this store is active (the registry calls it at open).
  int remove_temp_files();

  const std::filesystem::path& root() const { return root_; }

 private:
  std::filesystem::path root_;
  std::vector<DataKey> keys_;
};

// A write in progress. Destroying it without commit() deletes the temp file.
class ArtifactStore::Writer {
 public:
  Writer(Writer&& other) noexcept;
  Writer& operator=(Writer&&) = delete;
  Writer(const Writer&) = delete;
  ~Writer();

  // Appends a chunk. Throws RegistryError(kIo) on a failed write (e.g. disk full); the
  // writer is then unusable and its temp file is deleted.
  void write(std::span<const std::byte> chunk);
  // Makes the content durable under its final name. When expected_digest is given and
  // differs, nothing is stored and kDigestMismatch is thrown.
  // replace: overwrite an existing file of the same content (re-encryption) instead of
  // keeping it.
  StoredArtifact commit(const std::optional<std::string>& expected_digest = std::nullopt,
                        bool replace = false);
  uint64_t bytes_written() const { return size_; }
  // The SHA-256 of what was written so far (e.g. to check a signature before commit).
  std::string digest() const;

 private:
  friend class ArtifactStore;
  Writer(const ArtifactStore& store, int fd, std::filesystem::path temp_path);
  void discard();
  void write_all(const std::byte* data, std::size_t size);
  void write_encrypted(std::span<const std::byte> chunk);

  const ArtifactStore* store_;
  int fd_;
  std::filesystem::path temp_path_;
  Sha256 hasher_;  // until background_ takes over
  // Plaintext writes past kBackgroundHashBytes are hashed from the file by a thread.
  std::unique_ptr<BackgroundHasher> background_;
  uint64_t size_ = 0;
  uint64_t flushed_ = 0;                          // bytes whose write-back has been started
  std::unique_ptr<ArtifactEncryptor> encryptor_;  // when the store encrypts
  std::vector<std::byte> ciphertext_;
};

// Reads an artifact in chunks; the read that reaches the end checks the digest and throws
// RegistryError(kDigestMismatch) if the file was altered.
class ArtifactStore::Reader {
 public:
  Reader(Reader&& other) noexcept;
  Reader& operator=(Reader&&) = delete;
  Reader(const Reader&) = delete;
  ~Reader();

  // Fills up to buffer.size() bytes; returns 0 at the (verified) end.
  std::size_t read(std::span<std::byte> buffer);
  uint64_t size() const { return size_; }

 private:
  friend class ArtifactStore;
  Reader(int fd, std::string digest, uint64_t size);

  int fd_;
  std::string digest_;
  uint64_t size_;
  Sha256 hasher_;
  bool verified_ = false;
};

}  // namespace mg::registry
