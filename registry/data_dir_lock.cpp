#include "registry/data_dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "registry/registry_error.h"

namespace mg::registry {

DataDirLock::DataDirLock(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    throw RegistryError(RegistryError::Code::kIo, "create " + dir.string() + ": " + ec.message());
  }
  std::filesystem::path path = dir / "registry.lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    throw RegistryError(RegistryError::Code::kIo,
                        "open " + path.string() + ": " + std::strerror(errno));
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    int error = errno;
    ::close(fd_);
    throw RegistryError(RegistryError::Code::kConflict, "data dir " + dir.string() +
                                                            " is in use by another process (" +
                                                            std::strerror(error) + ")");
  }
}

DataDirLock::~DataDirLock() { ::close(fd_); }

}  // namespace mg::registry
