// The content-addressed artifact store: streaming writes, digests, dedupe, verification
// on read, and what is left behind by failures.
#include "registry/artifact_store.h"

#include <gtest/gtest.h>
#include <sys/mount.h>

#include <cstring>
#include <fstream>

#include "registry/registry_error.h"
#include "temp_dir.h"

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
