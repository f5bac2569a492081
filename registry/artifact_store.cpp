#include "registry/artifact_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <future>
#include <random>
#include <utility>

#include "registry/background_hasher.h"
#include "registry/registry_error.h"

namespace mg::registry {
namespace {

using Code = RegistryError::Code;

// Encrypted writes: chunks at least this big are hashed on a second thread while they
// are encrypted and written.
constexpr std::size_t kParallelHashBytes = 256 * 1024;
// Plaintext writes: once this much is written, a BackgroundHasher follows the file.
constexpr uint64_t kBackgroundHashBytes = 4 * 1024 * 1024;
// Write-back is started in pieces this big (large enough for the disk to stream them).
constexpr uint64_t kWritebackBytes = 16 * 1024 * 1024;

[[noreturn]] void io_error(const std::string& what, int error) {
  throw RegistryError(Code::kIo, what + ": " + std::strerror(error));
}

void fsync_directory(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) io_error("open " + dir.string(), errno);
  int rc = ::fsync(fd);
  int error = errno;
  ::close(fd);
  if (rc != 0) io_error("fsync " + dir.string(), error);
}

void create_directory_durably(const std::filesystem::path& dir) {
  std::error_code ec;
  if (std::filesystem::create_directory(dir, ec)) {
    fsync_directory(dir.parent_path());
  } else if (ec) {
    throw RegistryError(Code::kIo, "create " + dir.string() + ": " + ec.message());
  }
}

std::string random_suffix() {
  static std::atomic<uint64_t> counter{0};
  std::random_device device;
  return std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
         std::to_string(device());
}

}  // namespace

ArtifactStore::ArtifactStore(std::filesystem::path root) : root_(std::move(root)) {
  std::error_code ec;
  std::filesystem::create_directories(root_, ec);
  if (ec) throw RegistryError(Code::kIo, "create " + root_.string() + ": " + ec.message());
  create_directory_durably(root_ / "sha256");
  create_directory_durably(root_ / "tmp");
}

std::filesystem::path ArtifactStore::path_of(const std::string& digest) const {
  if (!is_sha256_hex(digest)) {
    throw RegistryError(Code::kInvalidArgument,
                        "not a lowercase hex SHA-256 digest: '" + digest.substr(0, 80) + "'");
  }
  return root_ / "sha256" / digest.substr(0, 2) / digest.substr(2);
}

bool ArtifactStore::contains(const std::string& digest) const {
  std::error_code ec;
  return std::filesystem::is_regular_file(path_of(digest), ec);
}

ArtifactStore::Writer ArtifactStore::begin_write() {
  std::filesystem::path temp = root_ / "tmp" / ("upload-" + random_suffix());
  // (read-write: a background hasher reads plaintext back from it)
  int fd = ::open(temp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) io_error("create " + temp.string(), errno);
  Writer writer(*this, fd, std::move(temp));
  if (!keys_.empty()) {
    writer.encryptor_ = std::make_unique<ArtifactEncryptor>(keys_[0]);
    writer.write_all(writer.encryptor_->header().data(), writer.encryptor_->header().size());
  }
  return writer;
}

StoredArtifact ArtifactStore::put(std::span<const std::byte> content,
                                  const std::optional<std::string>& expected_digest) {
  Writer writer = begin_write();
  writer.write(content);
  return writer.commit(expected_digest);
}

void ArtifactStore::install_stored(const std::string& digest,
                                   const std::function<bool(std::string&)>& next_chunk) {
  const std::filesystem::path final_path = path_of(digest);
  std::filesystem::path temp = root_ / "tmp" / ("fetch-" + random_suffix());
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) io_error("create " + temp.string(), errno);
  auto fail = [&](const std::string& what, int error) {
    ::close(fd);
    ::unlink(temp.c_str());
    io_error(what, error);
  };
  try {
    std::string chunk;
    while (next_chunk(chunk)) {
      const char* data = chunk.data();
      std::size_t left = chunk.size();
      while (left > 0) {
        const ssize_t n = ::write(fd, data, left);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail("write " + temp.string(), errno);
        data += n;
        left -= static_cast<std::size_t>(n);
      }
    }
  } catch (...) {
    ::close(fd);
    ::unlink(temp.c_str());
    throw;
  }
  if (::fsync(fd) != 0 || ::fchmod(fd, 0444) != 0) fail("sync artifact", errno);
  ::close(fd);
  create_directory_durably(final_path.parent_path());
  if (::rename(temp.c_str(), final_path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    io_error("rename artifact into place", error);
  }
  fsync_directory(final_path.parent_path());
}

std::vector<std::byte> ArtifactStore::read(const std::string& digest) const {
  if (is_encrypted(digest)) {
    const std::filesystem::path path = path_of(digest);
    std::vector<std::byte> content(std::filesystem::file_size(path));
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) io_error("open " + path.string(), errno);
    std::size_t got = 0;
    while (got < content.size()) {
      const ssize_t n = ::read(fd, content.data() + got, content.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    ::close(fd);
    if (got != content.size()) {
      throw RegistryError(Code::kDigestMismatch, "artifact " + digest + " changed while read");
    }
    decrypt_artifact_in_place(content, keys_, digest);
    const std::string actual = sha256_hex(content);
    if (actual != digest) {
      throw RegistryError(Code::kDigestMismatch,
                          "artifact " + digest + " is corrupt: its content hashes to " + actual);
    }
    return content;
  }
  Reader reader = open(digest);
  std::vector<std::byte> content(reader.size());
  std::size_t offset = 0;
  while (offset < content.size()) {
    std::size_t n = reader.read(std::span(content).subspan(offset));
    if (n == 0) break;
    offset += n;
  }
  std::byte probe[1];
  if (offset != content.size() || reader.read(probe) != 0) {
    throw RegistryError(Code::kDigestMismatch,
                        "artifact " + digest + " changed size while being read");
  }
  return content;
}

bool ArtifactStore::is_encrypted(const std::string& digest) const {
  return key_id_of(digest).has_value();
}

std::optional<std::array<unsigned char, 8>> ArtifactStore::key_id_of(
    const std::string& digest) const {
  const std::filesystem::path path = path_of(digest);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::byte head[16];
  const ssize_t n = ::read(fd, head, sizeof head);
  ::close(fd);
  if (n != static_cast<ssize_t>(sizeof head) || !is_encrypted_artifact(head)) return std::nullopt;
  std::array<unsigned char, 8> id{};
  std::memcpy(id.data(), head + 8, id.size());
  return id;
}

void ArtifactStore::reencrypt(const std::string& digest) {
  const std::vector<std::byte> content = read(digest);  // decrypted and verified
  Writer writer = begin_write();
  writer.write(content);
  writer.commit(digest, /*replace=*/true);
}

ArtifactStore::Reader ArtifactStore::open(const std::string& digest) const {
  if (is_encrypted(digest)) {
    throw RegistryError(Code::kInvalidArgument,
                        "artifact " + digest + " is encrypted: read it whole (read())");
  }
  std::filesystem::path path = path_of(digest);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) throw RegistryError(Code::kNotFound, "artifact " + digest + " is missing");
    io_error("open " + path.string(), errno);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int error = errno;
    ::close(fd);
    io_error("stat " + path.string(), error);
  }
  return Reader(fd, digest, static_cast<uint64_t>(st.st_size));
}

std::vector<std::string> ArtifactStore::list() const {
  std::vector<std::string> digests;
  std::error_code ec;
  for (const auto& prefix : std::filesystem::directory_iterator(root_ / "sha256", ec)) {
    for (const auto& file : std::filesystem::directory_iterator(prefix.path(), ec)) {
      std::string digest = prefix.path().filename().string() + file.path().filename().string();
      if (is_sha256_hex(digest)) digests.push_back(digest);
    }
  }
  return digests;
}

void ArtifactStore::remove(const std::string& digest) {
  std::filesystem::path path = path_of(digest);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return;
    io_error("remove " + path.string(), errno);
  }
  fsync_directory(path.parent_path());
}

int ArtifactStore::remove_temp_files() {
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(root_ / "tmp", ec)) {
    if (std::filesystem::remove(entry.path(), ec)) ++removed;
  }
  return removed;
}

// ---- Writer -----------------------------------------------------------------------------

ArtifactStore::Writer::Writer(const ArtifactStore& store, int fd, std::filesystem::path temp)
    : store_(&store), fd_(fd), temp_path_(std::move(temp)) {}

ArtifactStore::Writer::Writer(Writer&& other) noexcept
    : store_(other.store_),
      fd_(std::exchange(other.fd_, -1)),
      temp_path_(std::exchange(other.temp_path_, {})),
      hasher_(std::move(other.hasher_)),
      background_(std::move(other.background_)),
      size_(other.size_),
      flushed_(other.flushed_),
      encryptor_(std::move(other.encryptor_)),
      ciphertext_(std::move(other.ciphertext_)) {}

ArtifactStore::Writer::~Writer() { discard(); }

void ArtifactStore::Writer::discard() {
  background_.reset();  // stops its thread, which reads fd_
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
  temp_path_.clear();
}

std::string ArtifactStore::Writer::digest() const {
  return background_ ? background_->peek_hex_digest() : hasher_.peek_hex_digest();
}

void ArtifactStore::Writer::write(std::span<const std::byte> chunk) {
  if (fd_ < 0) throw RegistryError(Code::kIo, "artifact writer already finished");
  const uint64_t before = size_;
  if (encryptor_) {
    write_encrypted(chunk);
  } else {
    // SHA-256 (~1.7 GB/s) is as slow as the disk: a big plaintext artifact is hashed by a
    // thread reading the file back behind the writes, so the hash overlaps the writes
    // and commit's fsync. Small ones are hashed here; not worth a thread.
    if (!background_ && before + chunk.size() < kBackgroundHashBytes) {
      hasher_.update(chunk);
      write_all(chunk.data(), chunk.size());
    } else {
      write_all(chunk.data(), chunk.size());
      if (!background_) {
        background_ = std::make_unique<BackgroundHasher>(fd_, std::move(hasher_), before);
      }
      background_->advance(before + chunk.size());
    }
  }
  size_ = before + chunk.size();
  // Every kWritebackBytes, start write-back of what is not yet flushed, so the disk works
  // while later chunks arrive and commit's fsync has less left to do. A hint only.
  if (size_ - flushed_ >= kWritebackBytes) {
    ::sync_file_range(fd_, static_cast<off_t>(flushed_), static_cast<off_t>(size_ - flushed_),
                      SYNC_FILE_RANGE_WRITE);
    flushed_ = size_;
  }
}

void ArtifactStore::Writer::write_encrypted(std::span<const std::byte> chunk) {
  // Big chunks are hashed on a second thread while this one encrypts and writes them.
  std::future<void> hashed;
  if (chunk.size() >= kParallelHashBytes) {
    hashed = std::async(std::launch::async, [this, chunk] { hasher_.update(chunk); });
  } else {
    hasher_.update(chunk);
  }
  struct JoinHash {  // the hasher reads chunk: join before leaving, even by exception
    std::future<void>& f;
    ~JoinHash() {
      if (f.valid()) f.wait();
    }
  } join{hashed};
  encryptor_->update(chunk, ciphertext_);
  write_all(ciphertext_.data(), ciphertext_.size());
  if (hashed.valid()) hashed.get();  // rethrows a hashing failure
}

void ArtifactStore::Writer::write_all(const std::byte* data, std::size_t left) {
  while (left > 0) {
    ssize_t n = ::write(fd_, data, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      int error = errno;
      discard();
      io_error("write artifact", error);
    }
    data += n;
    left -= static_cast<std::size_t>(n);
  }
}

StoredArtifact ArtifactStore::Writer::commit(const std::optional<std::string>& expected_digest,
                                             bool replace) {
  if (fd_ < 0) throw RegistryError(Code::kIo, "artifact writer already finished");
  if (encryptor_) {
    const auto tag = encryptor_->finish();
    write_all(tag.data(), tag.size());
  }
  // (a background hasher keeps hashing while this waits for the disk)
  if (::fsync(fd_) != 0 || ::fchmod(fd_, 0444) != 0) {
    int error = errno;
    discard();
    io_error("sync artifact", error);
  }
  StoredArtifact stored{"", size_};
  if (background_) {
    try {
      stored.digest = background_->finish();
    } catch (...) {
      discard();
      throw;
    }
    background_.reset();
  } else {
    stored.digest = hasher_.hex_digest();
  }
  int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) {
    int error = errno;
    discard();
    io_error("close artifact", error);
  }
  if (expected_digest && *expected_digest != stored.digest) {
    discard();
    throw RegistryError(Code::kDigestMismatch,
                        "content hashes to " + stored.digest + ", expected " + *expected_digest);
  }
  std::filesystem::path final_path = store_->path_of(stored.digest);
  create_directory_durably(final_path.parent_path());
  std::error_code ec;
  if (!replace && std::filesystem::exists(final_path, ec)) {
    discard();  // identical content is already stored
    return stored;
  }
  if (::rename(temp_path_.c_str(), final_path.c_str()) != 0) {
    int error = errno;
    discard();
    io_error("rename artifact into place", error);
  }
  temp_path_.clear();
  fsync_directory(final_path.parent_path());
  return stored;
}

// ---- Reader -----------------------------------------------------------------------------

ArtifactStore::Reader::Reader(int fd, std::string digest, uint64_t size)
    : fd_(fd), digest_(std::move(digest)), size_(size) {}

ArtifactStore::Reader::Reader(Reader&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      digest_(std::move(other.digest_)),
      size_(other.size_),
      hasher_(std::move(other.hasher_)),
      verified_(other.verified_) {}

ArtifactStore::Reader::~Reader() {
  if (fd_ >= 0) ::close(fd_);
}

std::size_t ArtifactStore::Reader::read(std::span<std::byte> buffer) {
  if (verified_ || buffer.empty()) return 0;
  ssize_t n;
  do {
    n = ::read(fd_, buffer.data(), buffer.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) io_error("read artifact " + digest_, errno);
  if (n > 0) {
    hasher_.update(buffer.first(static_cast<std::size_t>(n)));
    return static_cast<std::size_t>(n);
  }
  verified_ = true;
  std::string actual = hasher_.hex_digest();
  if (actual != digest_) {
    throw RegistryError(Code::kDigestMismatch,
                        "artifact " + digest_ + " is corrupt: its content hashes to " + actual);
  }
  return 0;
}

}  // namespace mg::registry
