#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/event_loop.h"
#include "gateway/limits/redis_client.h"

struct redisContext;

namespace mg::gateway {

// One connection to Redis driven by a socket thread's event loop, so a request waiting
// for Redis holds no thread: the commands issued while the loop runs its ready handlers
// go out in one write once they have run, and each reply comes back to its callback on
// the same thread, in order. Use it from the loop's thread only (one per loop:
// RedisLimits keeps it in EventLoop::local).
//
// A command not answered within `timeout` (checked by one timer, so at the latest after
// twice that) fails with every other in flight, and the connection is dropped; the next command
// connects again, at most once a second while Redis cannot be reached (connecting blocks the thread
// for up to `timeout`).
class AsyncRedis : public std::enable_shared_from_this<AsyncRedis> {
 public:
  // `reply` is null when Redis could not answer; `error` then says why.
  using Callback = std::function<void(RedisReplyPtr reply, const std::string& error)>;

  AsyncRedis(RedisAddress address, EventLoop& loop,
             std::chrono::milliseconds timeout = std::chrono::milliseconds(500));
  ~AsyncRedis();
  AsyncRedis(const AsyncRedis&) = delete;
  AsyncRedis& operator=(const AsyncRedis&) = delete;

  void command(const std::vector<std::string>& argv, Callback done);

  // The connection `owner` keeps on `loop` (made on first use), to `address`.
  static AsyncRedis& of(EventLoop& loop, const void* owner, const RedisAddress& address);

 private:
  void flush();
  void on_readable(uint64_t generation);
  void wait_readable();
  void arm_deadline();
  void fail_all(const std::string& why);

  RedisPool connector_;  // makes the connection (AUTH, SELECT, timeouts)
  EventLoop& loop_;
  std::chrono::milliseconds timeout_;
  redisContext* context_ = nullptr;
  uint64_t generation_ = 0;  // of the connection: callbacks of an older one are ignored
  std::chrono::steady_clock::time_point retry_at_{};  // no connecting before this
  std::deque<Callback> waiting_;                      // in the order their commands were sent
  uint64_t answered_ = 0;                             // replies received on this connection
  bool flush_posted_ = false, reading_ = false, writing_ = false, deadline_armed_ = false;
};

// EVALSHA of `script` on `redis`, EVAL when Redis does not know it (its script cache was
// emptied by a restart). `done` gets the reply, or null and why (an error reply included).
void run_script_async(AsyncRedis& redis, const RedisScript& script, std::vector<std::string> keys,
                      std::vector<std::string> args, AsyncRedis::Callback done);

}  // namespace mg::gateway
