#include "registry/background_hasher.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "registry/registry_error.h"

namespace mg::registry {
namespace {

// What the hasher reads per step: big enough to amortise the syscall and the lock, small
// enough to stay in cache while it is hashed.
constexpr std::size_t kReadBytes = 1 << 20;

}  // namespace

BackgroundHasher::BackgroundHasher(int fd, Sha256 hasher, uint64_t offset)
    : fd_(fd), hasher_(std::move(hasher)), written_(offset), hashed_(offset), thread_([this] {
        run();
      }) {}

BackgroundHasher::~BackgroundHasher() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void BackgroundHasher::advance(uint64_t written) {
  {
    std::lock_guard lock(mutex_);
    written_ = written;
  }
  changed_.notify_all();
}

void BackgroundHasher::wait_caught_up(std::unique_lock<std::mutex>& lock) {
  changed_.wait(lock, [&] { return hashed_ == written_ || error_; });
  if (error_) std::rethrow_exception(error_);
}

std::string BackgroundHasher::peek_hex_digest() {
  std::unique_lock lock(mutex_);
  wait_caught_up(lock);
  return hasher_.peek_hex_digest();  // the thread is idle: nothing is left to hash
}

std::string BackgroundHasher::finish() {
  {
    std::unique_lock lock(mutex_);
    wait_caught_up(lock);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
  return hasher_.hex_digest();
}

void BackgroundHasher::run() {
  std::vector<std::byte> buffer(kReadBytes);
  std::unique_lock lock(mutex_);
  while (true) {
    changed_.wait(lock, [&] { return stopping_ || hashed_ < written_; });
    if (stopping_) return;  // finished (caught up) or abandoned (the write was dropped)
    const uint64_t at = hashed_;
    const std::size_t want =
        static_cast<std::size_t>(std::min<uint64_t>(written_ - at, kReadBytes));
    lock.unlock();
    ssize_t got;
    do {
      got = ::pread(fd_, buffer.data(), want, static_cast<off_t>(at));
    } while (got < 0 && errno == EINTR);
    if (got > 0) hasher_.update(std::span(buffer.data(), static_cast<std::size_t>(got)));
    const int error = errno;
    lock.lock();
    if (got <= 0) {
      // The file is shorter than what was written to it, or unreadable: the writer
      // learns it at its next peek or at finish.
      error_ = std::make_exception_ptr(RegistryError(
          RegistryError::Code::kIo, std::string("read back artifact for hashing: ") +
                                        (got < 0 ? std::strerror(error) : "the file ended early")));
      changed_.notify_all();
      return;
    }
    hashed_ += static_cast<uint64_t>(got);
    if (hashed_ == written_) changed_.notify_all();
  }
}

}  // namespace mg::registry
