#pragma once

#include <filesystem>

namespace mg::registry {

// An exclusive flock on <dir>/registry.lock for the life of the object: one process owns
// a data dir at a time. The kernel releases it when the process dies, even by SIGKILL.
class DataDirLock {
 public:
  // Creates dir if needed. Throws RegistryError(kConflict) when another process holds it.
  explicit DataDirLock(const std::filesystem::path& dir);
  ~DataDirLock();
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace mg::registry
