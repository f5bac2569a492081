// Registry: what only cluster mode (PostgreSQL, several replicas) does — announcing
// changes, following the other replicas' changes, and keeping artifacts' bytes in the
// shared database with a local cache on each replica.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "registry/artifact_chunks.h"
#include "registry/postgres.h"
#include "registry/registry.h"
#include "registry/registry_error.h"

namespace mg::registry {
namespace {

constexpr const char* kChannel = "modelgate_catalog";
// Artifacts move in chunks this big: a large model never sits whole in memory.
constexpr std::size_t kChunkBytes = 1 << 20;
// The fallback version check, and how long a lost connection waits before retrying.
constexpr std::chrono::milliseconds kCheckInterval{1000};

}  // namespace

void Registry::announce_change() {
  if (!clustered()) return;
  db_->exec("UPDATE catalog_version SET version = version + 1");
  db_->exec(std::string("NOTIFY ") + kChannel);
}

void Registry::push_artifact(const std::string& digest) {
  if (!clustered()) return;
  auto known = db_->prepare("SELECT 1 FROM artifact_chunks WHERE digest = ? AND seq = 0");
  known.bind(1, digest);
  if (known.step()) return;
  insert_artifact_chunks(*db_, digest, store_.path_of(digest));
}

void insert_artifact_chunks(sql::Database& db, const std::string& digest,
                            const std::filesystem::path& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw RegistryError(RegistryError::Code::kIo,
                        "open artifact " + digest + ": " + std::strerror(errno));
  }
  std::string chunk(kChunkBytes, '\0');
  auto insert = db.prepare("INSERT INTO artifact_chunks (digest, seq, data) VALUES (?,?,?)");
  try {
    for (int64_t seq = 0;; ++seq) {
      std::size_t filled = 0;
      while (filled < chunk.size()) {
        const ssize_t n = ::read(fd, chunk.data() + filled, chunk.size() - filled);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          throw RegistryError(RegistryError::Code::kIo,
                              "read artifact " + digest + ": " + std::strerror(errno));
        }
        if (n == 0) break;
        filled += static_cast<std::size_t>(n);
      }
      if (filled == 0 && seq > 0) break;
      insert.bind(1, digest)
          .bind(2, seq)
          .bind_blob(3, std::as_bytes(std::span(chunk.data(), filled)))
          .run();
      insert.reset();
      if (filled < chunk.size()) break;
    }
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
}

void Registry::release_shared_blobs() {
  sql::Transaction transaction(*db_);
  const std::string dead = std::string("NOT IN (") + kLiveArtifacts + ")";
  const int64_t added_after = now() - kUnreferencedArtifactGraceMs;
  db_->prepare("UPDATE artifacts SET present = 0 WHERE present = 1 AND digest " + dead)
      .bind(1, added_after)
      .run();
  db_->prepare("DELETE FROM artifact_chunks WHERE digest " + dead).bind(1, added_after).run();
  transaction.commit();
}

void Registry::fetch_artifact(const std::string& digest) {
  if (!clustered() || store_.contains(digest)) return;
  std::lock_guard lock(write_mutex_);  // db_ is one connection
  if (store_.contains(digest)) return;
  auto chunk_at = db_->prepare("SELECT data FROM artifact_chunks WHERE digest = ? AND seq = ?");
  int64_t seq = 0;
  bool any = false;
  store_.install_stored(digest, [&](std::string& chunk) {
    chunk_at.reset();
    chunk_at.bind(1, digest).bind(2, seq++);
    if (!chunk_at.step()) return false;
    chunk = chunk_at.column_blob(0);
    any = true;
    return true;
  });
  if (!any) {
    store_.remove(digest);
    throw RegistryError(RegistryError::Code::kNotFound,
                        "artifact " + digest + " is not in the cluster's database");
  }
}

void Registry::set_follower(Follower* follower) {
  std::lock_guard lock(follower_mutex_);
  follower_ = follower;
}

bool Registry::refresh() {
  if (!clustered()) return false;
  // One refresh at a time, and the follower stays set while it runs.
  std::lock_guard following(follower_mutex_);
  std::shared_ptr<Catalog> next;
  int64_t next_version = 0;
  try {
    std::lock_guard lock(write_mutex_);
    auto version = db_->prepare("SELECT version FROM catalog_version");
    const int64_t current = version.step() ? version.column_int(0) : 0;
    if (!synced_.load()) {
      log(LogLevel::kInfo, "registry: the catalogue database is reachable again");
    }
    synced_.store(true, std::memory_order_release);
    if (current == catalog_version_) return false;
    next = read_catalog(next_version);
  } catch (const RegistryError& e) {
    if (synced_.exchange(false)) {
      log(LogLevel::kWarn, std::string("registry: the catalogue cannot be checked: ") + e.what());
    }
    return false;
  }
  // Without the lock: preparing may load models, which fetches artifacts.
  if (follower_ != nullptr) follower_->prepare(*next);
  {
    std::lock_guard lock(write_mutex_);
    // A change of this replica's own may have published a newer catalogue meanwhile.
    if (next_version > catalog_version_) publish_catalog(std::move(next), next_version);
  }
  if (follower_ != nullptr) follower_->settled();
  return true;
}

void Registry::watch_catalog() {
  sql::PostgresListener listener(options_.postgres_url, kChannel);
  for (;;) {
    {
      std::unique_lock lock(stop_mutex_);
      if (stopping_) return;
    }
    // Notified, timed out or disconnected: each ends in a version check, which is what
    // catches a NOTIFY lost while the connection was down.
    listener.wait(kCheckInterval);
    {
      std::lock_guard lock(stop_mutex_);
      if (stopping_) return;
    }
    refresh();
  }
}

}  // namespace mg::registry
