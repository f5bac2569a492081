#pragma once

#include <chrono>
#include <cstdint>
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

 private:
  redisContext* connect();

  RedisAddress address_;
  std::chrono::milliseconds timeout_;
  std::mutex mutex_;
  std::vector<redisContext*> idle_;
};

}  // namespace mg::gateway
