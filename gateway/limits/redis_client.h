#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

struct redisContext;
struct redisReply;

namespace mg::gateway {

// Redis could not be reached or did not answer in time.
class RedisUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// redis://[:password@]host[:port][/db]
struct RedisAddress {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string password;
};
// Throws std::invalid_argument naming what is wrong.
RedisAddress parse_redis_url(const std::string& url);

// Queues one command on a hiredis context (binary-safe), to be sent with its next write.
void append_command(redisContext* c, const std::vector<std::string>& argv);

struct RedisReplyDeleter {
  void operator()(redisReply* reply) const;
};
using RedisReplyPtr = std::unique_ptr<redisReply, RedisReplyDeleter>;

// Blocking connections to one Redis through hiredis (Debian's libhiredis), pooled: a
// request thread borrows one for one command and gives it back. A connection that fails
// is dropped; the next command connects again, so the pool recovers by itself when Redis
// is back. Timeouts are short: a request waits at most `timeout` for Redis.
class RedisPool {
 public:
  explicit RedisPool(RedisAddress address,
                     std::chrono::milliseconds timeout = std::chrono::milliseconds(500));
  ~RedisPool();
  RedisPool(const RedisPool&) = delete;
  RedisPool& operator=(const RedisPool&) = delete;

  // Runs one command. Throws RedisUnavailable when Redis cannot be reached; an error reply
  // is returned as it is (REDIS_REPLY_ERROR), for the caller to read.
  RedisReplyPtr command(const std::vector<std::string>& argv);
  // A new connection, authenticated and on the right database (the caller frees it).
  redisContext* connect();
  const RedisAddress& address() const { return address_; }

 private:
  RedisAddress address_;
  std::chrono::milliseconds timeout_;
  std::mutex mutex_;
  std::vector<redisContext*> idle_;
};

// One connection to Redis shared by every request thread, pipelined without a thread of
// its own: the first caller to find the connection free becomes the leader, sends every
// command waiting at that moment in one write, reads their replies in order and hands them
// out, and goes on while more are waiting; the others wait for their reply. Alone, a
// caller does its own round trip (no thread hand-off); under load N requests cost Redis
// one wake-up and a few system calls instead of N of each (bench/RESULTS.md "Scale-out").
// Each caller waits at most `timeout` per batch ahead of it. A connection that fails fails
// the commands in flight on it (RedisUnavailable) and the next batch connects again.
class RedisPipeline {
 public:
  explicit RedisPipeline(RedisAddress address,
                         std::chrono::milliseconds timeout = std::chrono::milliseconds(500));
  ~RedisPipeline();
  RedisPipeline(const RedisPipeline&) = delete;
  RedisPipeline& operator=(const RedisPipeline&) = delete;

  // Same contract as RedisPool::command.
  RedisReplyPtr command(std::vector<std::string> argv);
  const RedisAddress& address() const { return connector_.address(); }

 private:
  struct Call {
    std::vector<std::string> argv;
    std::promise<RedisReplyPtr> reply;
  };
  void send(std::vector<Call>& calls);

  RedisPool connector_;  // makes the connection
  std::chrono::milliseconds timeout_;
  redisContext* context_ = nullptr;  // used by the leader only
  std::mutex mutex_;
  std::deque<Call> queue_;
  bool leading_ = false;  // a caller is sending and reading
};

// A Lua script run by its SHA-1 (EVALSHA): one round trip, the script text sent again
// (EVAL) only when Redis does not know it, after a restart emptied its script cache.
class RedisScript {
 public:
  explicit RedisScript(std::string text);
  // Runs the script with `keys` then `args`. Throws RedisUnavailable when Redis cannot be
  // reached or the script fails (its error in the message).
  RedisReplyPtr run(RedisPipeline& redis, const std::vector<std::string>& keys,
                    const std::vector<std::string>& args) const;
  const std::string& sha() const { return sha_; }
  // EVALSHA (or, `text`, EVAL) with `keys` then `args`: a command's argv.
  std::vector<std::string> argv(const std::vector<std::string>& keys,
                                const std::vector<std::string>& args, bool text) const;

 private:
  std::string text_;
  std::string sha_;
};

}  // namespace mg::gateway
