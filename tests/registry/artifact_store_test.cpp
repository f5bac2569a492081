// The content-addressed artifact store: streaming writes, digests, dedupe, verification
// on read, and what is left behind by failures.
#include "registry/artifact_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "registry/background_hasher.h"
#include "registry/registry_error.h"
#include "tests/registry/temp_dir.h"

namespace mg::registry {
namespace {

using testing::bytes_of;
using testing::TempDir;

// SHA-256("hello world"), from `printf 'hello world' | sha256sum`.
constexpr char kHelloDigest[] = "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";

int count_files(const std::filesystem::path& dir) {
  int n = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    n += entry.is_regular_file();
  }
  return n;
}

TEST(ArtifactStore, StreamedChunksHashAndLandUnderTheirDigest) {
  TempDir dir;
  ArtifactStore store(dir.path());
  auto writer = store.begin_write();
  writer.write(bytes_of("hello"));
  writer.write(bytes_of(" "));
  writer.write(bytes_of("world"));
  StoredArtifact stored = writer.commit(std::string(kHelloDigest));
  EXPECT_EQ(stored.digest, kHelloDigest);
  EXPECT_EQ(stored.size, 11u);
  EXPECT_EQ(store.path_of(kHelloDigest),
            dir.path() / "sha256" / "b9" / std::string(kHelloDigest + 2));
  EXPECT_TRUE(store.contains(kHelloDigest));
  auto content = store.read(kHelloDigest);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(content.data()), content.size()),
            "hello world");
  EXPECT_EQ(count_files(dir.path() / "tmp"), 0);
  // Final files are read-only.
  auto perms = std::filesystem::status(store.path_of(kHelloDigest)).permissions();
  EXPECT_EQ(perms & std::filesystem::perms::owner_write, std::filesystem::perms::none);
}

TEST(ArtifactStore, IdenticalContentIsStoredOnce) {
  TempDir dir;
  ArtifactStore store(dir.path());
  store.put(bytes_of("hello world"));
  store.put(bytes_of("hello world"));
  EXPECT_EQ(store.list().size(), 1u);
  EXPECT_EQ(count_files(dir.path()), 1);
}

TEST(ArtifactStore, DigestMismatchStoresNothing) {
  TempDir dir;
  ArtifactStore store(dir.path());
  try {
    store.put(bytes_of("hello world!"), std::string(kHelloDigest));
    FAIL() << "mismatch accepted";
  } catch (const RegistryError& e) {
    EXPECT_EQ(e.code(), RegistryError::Code::kDigestMismatch);
  }
  EXPECT_EQ(count_files(dir.path()), 0);
}

TEST(ArtifactStore, AbandonedWriterLeavesNothing) {
  TempDir dir;
  ArtifactStore store(dir.path());
  {
    auto writer = store.begin_write();
    writer.write(bytes_of("half an upload"));
    EXPECT_EQ(count_files(dir.path() / "tmp"), 1);
  }
  EXPECT_EQ(count_files(dir.path()), 0);
}

// Deterministic bytes that do not repeat in 4 KiB blocks (so a misplaced block changes
// the digest).
std::vector<std::byte> pseudo_random(std::size_t size) {
  std::vector<std::byte> out(size);
  uint64_t x = 0x9e3779b97f4a7c15ULL;
  for (auto& b : out) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    b = static_cast<std::byte>(x);
  }
  return out;
}

std::vector<std::byte> file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return std::vector<std::byte>(reinterpret_cast<const std::byte*>(text.data()),
                                reinterpret_cast<const std::byte*>(text.data()) + text.size());
}

// Past 4 MiB a thread hashes plaintext by reading the file back behind the writes: the
// digest must be the same as hashing the content at once, wherever the chunks fall.
TEST(ArtifactStore, BigArtifactsHashedBehindTheWritesKeepTheirDigest) {
  TempDir dir;
  ArtifactStore store(dir.path());
  const std::size_t mib = 1 << 20;
  for (const std::size_t size : {4 * mib - 1, 4 * mib, 4 * mib + 1, 11 * mib + 123}) {
    const std::vector<std::byte> content = pseudo_random(size);
    const std::span<const std::byte> all(content);
    const std::string expected = sha256_hex(all);
    // one chunk; two chunks straddling the 4 MiB mark; many odd-sized chunks
    for (const std::size_t chunk : {size, 3 * mib + 5, std::size_t{65536 + 17}}) {
      auto writer = store.begin_write();
      std::size_t at = 0;
      bool peeked = false;
      while (at < size) {
        const std::size_t n = std::min(chunk, size - at);
        writer.write(all.subspan(at, n));
        at += n;
        if (!peeked && at > 5 * mib && at < size) {  // mid-way, behind the background hasher
          EXPECT_EQ(writer.digest(), sha256_hex(all.first(at))) << size << " " << chunk;
          peeked = true;
        }
      }
      EXPECT_EQ(writer.digest(), expected);
      const StoredArtifact stored = writer.commit(expected);
      EXPECT_EQ(stored.digest, expected) << size << " in chunks of " << chunk;
      EXPECT_EQ(stored.size, size);
      EXPECT_TRUE(file_bytes(store.path_of(expected)) == content);
      store.remove(expected);
    }
  }
  EXPECT_EQ(count_files(dir.path()), 0);
}

TEST(ArtifactStore, BigWritesAbandonedOrMismatchedLeaveNothing) {
  TempDir dir;
  ArtifactStore store(dir.path());
  const std::vector<std::byte> content = pseudo_random(9 << 20);
  {
    auto writer = store.begin_write();
    writer.write(content);  // the hasher is still behind: dropping the writer stops it
  }
  EXPECT_EQ(count_files(dir.path()), 0);
  auto writer = store.begin_write();
  writer.write(content);
  try {
    writer.commit(std::string(kHelloDigest));
    FAIL() << "mismatch accepted";
  } catch (const RegistryError& e) {
    EXPECT_EQ(e.code(), RegistryError::Code::kDigestMismatch);
  }
  EXPECT_EQ(count_files(dir.path()), 0);
}

// A file that ends before what its writer reported (it was truncated under the store):
// the hasher reports an I/O error instead of a digest of something else.
TEST(BackgroundHasher, AFileShorterThanReportedIsAnIoError) {
  TempDir dir;
  const auto path = dir.path() / "short";
  std::ofstream(path) << "twelve bytes";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  {
    BackgroundHasher hasher(fd, Sha256(), 0);
    hasher.advance(12);
    EXPECT_EQ(hasher.peek_hex_digest(), sha256_hex(bytes_of("twelve bytes")));
    hasher.advance(4096);
    try {
      hasher.finish();
      ADD_FAILURE() << "a digest of a short file";
    } catch (const RegistryError& e) {
      EXPECT_EQ(e.code(), RegistryError::Code::kIo);
      EXPECT_NE(std::string(e.what()).find("ended early"), std::string::npos);
    }
  }
  ::close(fd);
}

TEST(ArtifactStore, TamperedFileFailsVerificationOnRead) {
  TempDir dir;
  ArtifactStore store(dir.path());
  StoredArtifact stored = store.put(bytes_of("hello world"));
  auto path = store.path_of(stored.digest);
  std::filesystem::permissions(path, std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::add);
  {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(3);
    file.put('L');  // one flipped byte
  }
  try {
    store.read(stored.digest);
    FAIL() << "tampered artifact was read";
  } catch (const RegistryError& e) {
    EXPECT_EQ(e.code(), RegistryError::Code::kDigestMismatch);
    EXPECT_NE(std::string(e.what()).find("is corrupt"), std::string::npos);
  }
}

TEST(ArtifactStore, StreamingReaderVerifiesAtTheEnd) {
  TempDir dir;
  ArtifactStore store(dir.path());
  std::string big(1 << 20, 'x');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7);
  StoredArtifact stored = store.put(bytes_of(big));
  auto reader = store.open(stored.digest);
  EXPECT_EQ(reader.size(), big.size());
  std::string copy;
  std::byte buffer[4096];
  while (std::size_t n = reader.read(buffer)) {
    copy.append(reinterpret_cast<const char*>(buffer), n);
  }
  EXPECT_EQ(copy, big);
}

TEST(ArtifactStore, BadDigestsAreNeverPaths) {
  TempDir dir;
  ArtifactStore store(dir.path());
  for (const char* bad :
       {"../../etc/passwd", "", "B94D27B9934D3E08A52E52D7DA7DABFAC484EFE37A5380EE9088F7ACE2EFCDE9",
        "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde"}) {
    EXPECT_THROW(store.path_of(bad), RegistryError) << bad;
    EXPECT_THROW(store.read(bad), RegistryError) << bad;
  }
  EXPECT_THROW(store.read(kHelloDigest), RegistryError);  // well-formed but absent
}

TEST(ArtifactStore, LeftoverTempFilesAreRemoved) {
  TempDir dir;
  ArtifactStore store(dir.path());
  std::ofstream(dir.path() / "tmp" / "upload-crashed") << "partial";
  EXPECT_EQ(store.remove_temp_files(), 1);
  EXPECT_EQ(count_files(dir.path()), 0);
}

// A real full disk: a 1 MiB tmpfs. Writing 2 MiB fails with a clear error, leaves no
// file behind, and the store works again once space is available.
TEST(ArtifactStore, DiskFullFailsCleanly) {
  TempDir dir;
  if (::mount("tmpfs", dir.path().c_str(), "tmpfs", 0, "size=1m") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here: " << std::strerror(errno);
  }
  struct Unmount {
    const TempDir& d;
    ~Unmount() { ::umount2(d.path().c_str(), MNT_DETACH); }
  } unmount{dir};
  ArtifactStore store(dir.path() / "store");
  std::string chunk(64 * 1024, 'z');
  try {
    auto writer = store.begin_write();
    for (int i = 0; i < 32; ++i) writer.write(bytes_of(chunk));
    writer.commit();
    FAIL() << "2 MiB fit in a 1 MiB tmpfs";
  } catch (const RegistryError& e) {
    EXPECT_EQ(e.code(), RegistryError::Code::kIo);
    EXPECT_NE(std::string(e.what()).find("No space left on device"), std::string::npos) << e.what();
  }
  EXPECT_EQ(count_files(dir.path() / "store"), 0);
  StoredArtifact small = store.put(bytes_of("hello world"));
  EXPECT_EQ(small.digest, kHelloDigest);
}

}  // namespace
}  // namespace mg::registry
