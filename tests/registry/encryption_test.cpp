// Encryption at rest: artifacts are stored AES-256-GCM encrypted under a key derived from
// the master key, decrypted only in memory, refused under a wrong key or when altered,
// and re-encrypted atomically under a new key.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "registry/artifact_cipher.h"
#include "registry/registry.h"
#include "registry/registry_error.h"
#include "temp_dir.h"

namespace mg::registry {
namespace {

std::array<unsigned char, 32> master(unsigned char fill) {
  std::array<unsigned char, 32> m{};
  m.fill(fill);
  return m;
}

std::string file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// 1 MiB of "weights" with structure (so runs of plaintext would be recognisable).
std::string weights() {
  std::mt19937 random(42);
  std::string w(1 << 20, '\0');
  for (auto& c : w) c = static_cast<char>(random() % 16);
  return w;
}

std::span<const std::byte> bytes(const std::string& s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

// Stores content as version 1 of model "m" (unreferenced blobs are collected at open).
std::string store_version(Registry& registry, const std::string& content) {
  registry.create_model({"m"}, "t");
  const StoredArtifact stored = registry.artifacts().put(bytes(content));
  registry.add_version("m", stored, "", "t");
  return stored.digest;
}

TEST(Encryption, StoredFilesHoldNoPlaintextAndReadBackExactly) {
  testing::TempDir dir;
  const DataKey key = derive_artifact_key(master(1));
  Registry registry({dir.path(), {}, {key}});
  const std::string content = weights();
  registry.create_model({"m"}, "t");
  const StoredArtifact stored = registry.artifacts().put(bytes(content));
  EXPECT_EQ(stored.size, content.size());
  EXPECT_TRUE(registry.add_version("m", stored, "", "t").encrypted);
  const std::string on_disk = file_bytes(registry.artifacts().path_of(stored.digest));
  EXPECT_TRUE(on_disk.starts_with("MGAEAD01"));
  EXPECT_EQ(on_disk.size(), content.size() + kCipherHeaderBytes + kCipherTagBytes);
  for (std::size_t offset = 0; offset + 32 <= content.size(); offset += 4096) {
    ASSERT_EQ(on_disk.find(content.substr(offset, 32)), std::string::npos) << offset;
  }
  const std::vector<std::byte> back = registry.artifacts().read(stored.digest);
  ASSERT_EQ(back.size(), content.size());
  EXPECT_EQ(std::memcmp(back.data(), content.data(), content.size()), 0);
  // Identical content under the same key is stored once, with a fresh nonce never reused.
  EXPECT_EQ(registry.artifacts().put(bytes(content)).digest, stored.digest);
}

TEST(Encryption, AWrongKeyFailsClearlyAndChangesNothing) {
  testing::TempDir dir;
  std::string digest, before;
  {
    Registry registry({dir.path(), {}, {derive_artifact_key(master(1))}});
    digest = store_version(registry, weights());
    before = file_bytes(registry.artifacts().path_of(digest));
  }
  {
    Registry wrong({dir.path(), {}, {derive_artifact_key(master(2))}});
    try {
      wrong.artifacts().read(digest);
      ADD_FAILURE() << "read under a wrong key";
    } catch (const RegistryError& e) {
      EXPECT_EQ(e.code(), RegistryError::Code::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find("master.key"), std::string::npos) << e.what();
    }
  }
  Registry plain({dir.path()});  // no key at all
  EXPECT_THROW(plain.artifacts().read(digest), RegistryError);
  EXPECT_EQ(file_bytes(plain.artifacts().path_of(digest)), before);
}

TEST(Encryption, AlteredCiphertextIsRefused) {
  testing::TempDir dir;
  Registry registry({dir.path(), {}, {derive_artifact_key(master(1))}});
  const std::string digest = registry.artifacts().put(bytes(weights())).digest;
  const auto path = registry.artifacts().path_of(digest);
  std::filesystem::permissions(path, std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::add);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(5000);
    f.put('\x55');
  }
  EXPECT_THROW(registry.artifacts().read(digest), RegistryError);
}

TEST(Encryption, ReencryptionMovesAnArtifactToTheNewKey) {
  testing::TempDir dir;
  const DataKey old_key = derive_artifact_key(master(1)), new_key = derive_artifact_key(master(2));
  const std::string content = weights();
  std::string digest;
  {
    Registry registry({dir.path()});  // plaintext before encryption was turned on
    digest = store_version(registry, content);
  }
  {
    Registry registry({dir.path(), {}, {old_key}});
    EXPECT_FALSE(registry.artifacts().is_encrypted(digest));
    registry.artifacts().reencrypt(digest);
    EXPECT_EQ(registry.artifacts().key_id_of(digest), old_key.id);
  }
  {
    Registry rotating({dir.path(), {}, {new_key, old_key}});
    EXPECT_EQ(rotating.artifacts().read(digest).size(), content.size());  // old key reads
    rotating.artifacts().reencrypt(digest);
    EXPECT_EQ(rotating.artifacts().key_id_of(digest), new_key.id);
  }
  Registry after({dir.path(), {}, {new_key}});
  EXPECT_EQ(after.artifacts().read(digest).size(), content.size());
  EXPECT_TRUE(std::filesystem::is_empty(dir.path() / "artifacts" / "tmp"));
}

}  // namespace
}  // namespace mg::registry
