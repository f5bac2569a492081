#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <string>
#include <thread>

#include "registry/sha256.h"

namespace mg::registry {

// Hashes a file's bytes on a thread of its own, behind the writer that appends them:
// the writer reports how far it has written, the hasher reads back from that file (the
// page cache) and follows. Ingest then costs max(hash, write + fsync) instead of their
// sum, and the writer's chunks need not be kept for the hasher. Only for plaintext
// files: the bytes read back must be the bytes to hash.
class BackgroundHasher {
 public:
  // Continues `hasher` (which has consumed the first `offset` bytes of the file) over
  // the rest of fd, which must stay open and readable until finish() or destruction.
  BackgroundHasher(int fd, Sha256 hasher, uint64_t offset);
  ~BackgroundHasher();  // stops and joins the thread; the result is dropped
  BackgroundHasher(const BackgroundHasher&) = delete;
  BackgroundHasher& operator=(const BackgroundHasher&) = delete;

  // The file now holds `written` bytes.
  void advance(uint64_t written);
  // The digest of the first `written` bytes (waits for the hasher to get there).
  std::string peek_hex_digest();
  // Waits for everything written so far, stops the thread and returns the digest.
  // Throws RegistryError(kIo) when reading the file back failed.
  std::string finish();

 private:
  void run();
  void wait_caught_up(std::unique_lock<std::mutex>& lock);

  const int fd_;
  Sha256 hasher_;  // used by the thread, and by peek under the lock once caught up
  std::mutex mutex_;
  std::condition_variable changed_;
  uint64_t written_;
  uint64_t hashed_;
  bool stopping_ = false;
  std::exception_ptr error_;
  std::thread thread_;  // last: starts after everything above exists
};

}  // namespace mg::registry
