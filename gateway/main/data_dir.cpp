#include "gateway/main/data_dir.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>
#include <vector>

#include "gateway/auth/key_crypto.h"
#include "modelgate/hex.h"
#include "registry/artifact_cipher.h"

namespace mg::gateway {

namespace fs = std::filesystem;

registry::RegistryOptions DataDir::registry_options() const {
  registry::RegistryOptions options{root, {}, {}};
  options.postgres_url = postgres_url;
  if (fs::exists(new_master_key())) {
    options.artifact_keys.push_back(
        registry::derive_artifact_key(KeyCrypto::read_master_key(new_master_key())));
  }
  if (fs::exists(master_key())) {
    options.artifact_keys.push_back(
        registry::derive_artifact_key(KeyCrypto::read_master_key(master_key())));
  }
  return options;
}

bool DataDir::initialised() const {
  if (clustered()) return fs::exists(certificate()) && fs::exists(master_key());
  return fs::exists(root / "registry.db") && fs::exists(master_key());
}

void sync_directory(const fs::path& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// `text` in a file of mode 0600, durable under `path` before this returns (temp file,
// fsync, rename, directory fsync).
void write_secret_file(const fs::path& path, const std::string& text) {
  const fs::path temp = path.string() + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const bool ok = fd >= 0 &&
                  ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  if (!ok || ::rename(temp.c_str(), path.c_str()) != 0) {
    throw std::runtime_error("cannot write " + path.string());
  }
  sync_directory(path.parent_path());
}

// A fresh master key, durable before this returns: what is encrypted under it must never
// outlive it.
void write_master_key(const fs::path& path) {
  unsigned char key[32];
  if (RAND_bytes(key, sizeof key) != 1)
    throw std::runtime_error("no randomness for the master key");
  std::string hex = modelgate::to_hex(key, sizeof key) + "\n";
  OPENSSL_cleanse(key, sizeof key);
  write_secret_file(path, hex);
  OPENSSL_cleanse(hex.data(), hex.size());
}

// Re-encrypts every artifact and re-seals every API key under a new master key, then
// makes it the master key. Crash-safe and resumable: master.key.new is durable before it
// is used; each artifact is replaced atomically, so it is readable under the old or the
// new key; the keys change in one transaction (skipped when already done); the final
// rename is atomic. While master.key.new exists the server refuses to start.
RotationReport rotate_master_key(const DataDir& dir) {
  if (!dir.initialised()) throw std::runtime_error("data dir is not initialised");
  if (!fs::exists(dir.new_master_key())) write_master_key(dir.new_master_key());
  const auto old_master = KeyCrypto::read_master_key(dir.master_key());
  const auto new_master = KeyCrypto::read_master_key(dir.new_master_key());
  registry::Registry registry(dir.registry_options());  // writes under the new key
  const auto new_id = registry::derive_artifact_key(new_master).id;
  const char* crash_after = std::getenv("MG_TEST_ROTATE_CRASH_AFTER");  // tests only
  int artifacts = 0;
  for (const auto& digest : registry.artifacts().list()) {
    if (registry.artifacts().key_id_of(digest) == new_id) continue;
    registry.artifacts().reencrypt(digest);
    ++artifacts;
    if (crash_after && artifacts == std::atoi(crash_after)) ::_exit(137);
  }
  KeyCrypto old_crypto(old_master), new_crypto(new_master);
  std::vector<registry::KeyRecord> resealed;
  for (auto key : registry.list_keys()) {
    if (new_crypto.open(key.secret_sealed, key.id)) continue;  // done by an earlier run
    const auto full = old_crypto.open(key.secret_sealed, key.id);
    if (!full) throw std::runtime_error("key " + key.id + " opens with neither master key");
    key.secret_hash = new_crypto.hash_key(*full);
    key.secret_sealed = new_crypto.seal(*full, key.id);
    resealed.push_back(std::move(key));
  }
  registry.replace_key_secrets(resealed, "rotate");
  if (::rename(dir.new_master_key().c_str(), dir.master_key().c_str()) != 0) {
    throw std::runtime_error("cannot move master.key.new into place");
  }
  sync_directory(dir.root);
  return RotationReport{artifacts, static_cast<int>(resealed.size())};
}

void refuse_during_rotation(const DataDir& dir) {
  if (fs::exists(dir.new_master_key())) {
    throw std::runtime_error(
        "a master key rotation is incomplete: run modelgate "
        "rotate-master-key --data-dir " +
        dir.root.string() + " again");
  }
}

}  // namespace mg::gateway
