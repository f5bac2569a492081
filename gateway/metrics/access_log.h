#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace mg::gateway {

// The structured access log: one JSON object per line per request. Requests append to a
// buffer; a background thread writes it out every 200 ms (and at exit), so a request never
// waits on a write to disk or a pipe. The buffer is bounded: while the output stalls (a
// full pipe, a hung log collector) lines beyond `capacity` bytes are dropped and counted,
// never held without bound, and the drop is reported once the output moves again.
//
// The buffer is split in shards, one per writing thread (threads beyond kShards share):
// the socket threads that write nearly every line then never contend for a lock or pass
// a buffer's cache lines between cores, which cost ~1 % of a small model's CPU under load.
// Lines are in order within a thread; each flush writes the shards one after another, so
// lines of different threads may be up to one flush (200 ms) out of time order (each line
// carries its time), as in nginx's log with several workers.
class AccessLog {
 public:
  static constexpr std::size_t kDefaultCapacity = 16 << 20;
  static constexpr std::size_t kShards = 8;
  // "stdout", "stderr", a file path (appended to), or "off" (nullptr).
  static std::unique_ptr<AccessLog> open(const std::string& where);
  // `capacity` is shared out evenly between the shards.
  explicit AccessLog(std::FILE* out, bool owned, std::size_t capacity = kDefaultCapacity);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  void write(std::string_view line);  // without the newline
  // Called (on the request's thread, outside any lock) for each line dropped (metrics).
  void on_drop(std::function<void()> callback) { on_drop_ = std::move(callback); }
  uint64_t dropped() const { return dropped_.load(); }
  std::size_t pending_bytes();

 private:
  struct alignas(64) Shard {
    std::mutex mutex;
    std::string pending;
  };
  void flush_loop();

  std::FILE* out_;
  bool owned_;
  std::array<Shard, kShards> shards_;
  std::size_t shard_capacity_;
  std::atomic<uint64_t> dropped_{0};
  uint64_t reported_ = 0;          // drops already reported (writer thread only)
  std::function<void()> on_drop_;  // set before the first write
  std::mutex stop_mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // under stop_mutex_
  std::thread writer_;     // last
};

}  // namespace mg::gateway
