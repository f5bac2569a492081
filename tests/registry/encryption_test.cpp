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
#include "tests/registry/temp_dir.h"

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

// Past 2 GiB, EVP's int lengths would go negative: the artifact is decrypted in pieces.
// One buffer of 2 GiB + 17 bytes, encrypted 1 MiB at a time as the store writes it, with a
// pattern that shows any misplaced piece.
TEST(Encryption, ArtifactsPastTwoGibibytesDecrypt) {
  const DataKey key = derive_artifact_key(master(3));
  const std::size_t size = (std::size_t{1} << 31) + 17;
  ArtifactEncryptor encryptor(key);
  std::vector<std::byte> file(kCipherHeaderBytes + size + kCipherTagBytes);
  std::copy(encryptor.header().begin(), encryptor.header().end(), file.begin());
  std::vector<std::byte> plain, cipher;
  for (std::size_t at = 0; at < size; at += plain.size()) {
    plain.assign(std::min<std::size_t>(1 << 20, size - at), std::byte{0});
    for (std::size_t i = 0; i < plain.size(); i += 4096) plain[i] = std::byte((at + i) >> 12);
    encryptor.update(plain, cipher);
    std::copy(cipher.begin(), cipher.end(), file.begin() + kCipherHeaderBytes + at);
  }
  const auto tag = encryptor.finish();
  std::copy(tag.begin(), tag.end(), file.end() - kCipherTagBytes);
  decrypt_artifact_in_place(file, {key}, "big");
  ASSERT_EQ(file.size(), size);
  for (std::size_t i = 0; i < size; i += 4096) ASSERT_EQ(file[i], std::byte(i >> 12)) << i;
  EXPECT_EQ(file[size - 1], std::byte{0});
  EXPECT_EQ(file[4097], std::byte{0});
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
    // One bit of the ciphertext flipped (writing a fixed byte changed nothing when the
    // random nonce made that byte already hold it: one run in 256)
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(5000);
    const char byte = static_cast<char>(f.get());
    f.seekp(5000);
    f.put(static_cast<char>(byte ^ 0x01));
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
