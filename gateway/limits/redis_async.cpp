#include "gateway/limits/redis_async.h"

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace mg::gateway {

AsyncRedis::AsyncRedis(RedisAddress address, EventLoop& loop, std::chrono::milliseconds timeout)
    : connector_(std::move(address), timeout), loop_(loop), timeout_(timeout) {}

AsyncRedis::~AsyncRedis() {
  if (context_ == nullptr) return;
  loop_.forget(context_->fd);
  redisFree(context_);
}

AsyncRedis& AsyncRedis::of(EventLoop& loop, const void* owner, const RedisAddress& address) {
  std::shared_ptr<void>& slot = loop.local(owner);
  if (!slot) slot = std::make_shared<AsyncRedis>(address, loop);
  return *std::static_pointer_cast<AsyncRedis>(slot);
}

void AsyncRedis::command(const std::vector<std::string>& argv, Callback done) {
  if (context_ == nullptr) {
    const auto now = std::chrono::steady_clock::now();
    if (now < retry_at_) return done(nullptr, "redis: unreachable (retrying within a second)");
    try {
      context_ = connector_.connect();
    } catch (const RedisUnavailable& e) {
      retry_at_ = now + std::chrono::seconds(1);
      return done(nullptr, e.what());
    }
    // From here on the loop waits, not the thread: hiredis reads and writes without
    // blocking once its context no longer says it blocks.
    ::fcntl(context_->fd, F_SETFL, ::fcntl(context_->fd, F_GETFL) | O_NONBLOCK);
    context_->flags &= ~REDIS_BLOCK;
    ++generation_;
    answered_ = 0;
  }
  append_command(context_, argv);
  waiting_.push_back(std::move(done));
  arm_deadline();
  if (!flush_posted_) {
    // Sent once the handlers ready now have run: the commands they issue share the write.
    flush_posted_ = true;
    loop_.post([weak = weak_from_this(), generation = generation_] {
      if (auto self = weak.lock(); self && self->generation_ == generation) self->flush();
    });
  }
}

void AsyncRedis::flush() {
  flush_posted_ = false;
  if (context_ == nullptr) return;
  int done = 0;
  if (redisBufferWrite(context_, &done) == REDIS_ERR) {
    return fail_all(std::string("redis: ") + context_->errstr);
  }
  if (!done && !writing_) {
    writing_ = true;
    loop_.when_writable(context_->fd, [weak = weak_from_this(), generation = generation_] {
      auto self = weak.lock();
      if (!self || self->generation_ != generation) return;
      self->writing_ = false;
      self->flush();
    });
  }
  wait_readable();
}

void AsyncRedis::wait_readable() {
  if (reading_ || waiting_.empty()) return;
  reading_ = true;
  loop_.when_readable(context_->fd, [weak = weak_from_this(), generation = generation_] {
    if (auto self = weak.lock()) self->on_readable(generation);
  });
}

void AsyncRedis::on_readable(uint64_t generation) {
  if (generation != generation_ || context_ == nullptr) return;
  reading_ = false;
  // Read until the socket is empty: the loop is told of new data, not of data left over.
  char buffer[16384];
  for (;;) {
    const ssize_t n = ::read(context_->fd, buffer, sizeof buffer);
    if (n > 0) {
      if (redisReaderFeed(context_->reader, buffer, static_cast<size_t>(n)) != REDIS_OK) {
        return fail_all("redis: unreadable reply");
      }
      if (static_cast<size_t>(n) < sizeof buffer) break;
      continue;
    }
    if (n == 0) return fail_all("redis: the server closed the connection");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    return fail_all(std::string("redis: ") + std::strerror(errno));
  }
  for (;;) {
    void* raw = nullptr;
    if (redisReaderGetReply(context_->reader, &raw) != REDIS_OK) {
      return fail_all("redis: unreadable reply");
    }
    if (raw == nullptr || waiting_.empty()) {
      if (raw != nullptr) freeReplyObject(raw);
      break;
    }
    ++answered_;
    Callback done = std::move(waiting_.front());
    waiting_.pop_front();
    done(RedisReplyPtr(static_cast<redisReply*>(raw)), {});
    if (generation != generation_ || context_ == nullptr) return;  // failed meanwhile
  }
  wait_readable();
}

void AsyncRedis::arm_deadline() {
  if (deadline_armed_) return;  // one timer at a time, however many commands wait
  deadline_armed_ = true;
  loop_.after(timeout_,
              [weak = weak_from_this(), generation = generation_, oldest = answered_ + 1] {
                auto self = weak.lock();
                if (!self || self->generation_ != generation) return;
                self->deadline_armed_ = false;
                if (self->waiting_.empty()) return;
                if (self->answered_ < oldest) {
                  // The command that was oldest a timeout ago is still unanswered.
                  return self->fail_all("redis: no answer within " +
                                        std::to_string(self->timeout_.count()) + " ms");
                }
                self->arm_deadline();
              });
}

void AsyncRedis::fail_all(const std::string& why) {
  if (context_ != nullptr) {
    loop_.forget(context_->fd);
    redisFree(context_);
    context_ = nullptr;
  }
  ++generation_;
  flush_posted_ = reading_ = writing_ = deadline_armed_ = false;
  std::deque<Callback> failed;
  failed.swap(waiting_);
  for (Callback& done : failed) done(nullptr, why);
}

void run_script_async(AsyncRedis& redis, const RedisScript& script, std::vector<std::string> keys,
                      std::vector<std::string> args, AsyncRedis::Callback done) {
  std::vector<std::string> argv = script.argv(keys, args, false);
  redis.command(
      argv, [&redis, &script, keys = std::move(keys), args = std::move(args),
             done = std::move(done)](RedisReplyPtr reply, const std::string& error) mutable {
        if (reply && reply->type == REDIS_REPLY_ERROR) {
          const std::string text(reply->str, reply->len);
          if (!text.starts_with("NOSCRIPT")) return done(nullptr, "redis script: " + text);
          return redis.command(
              script.argv(keys, args, true),
              [done = std::move(done)](RedisReplyPtr again, const std::string& why) {
                if (again && again->type == REDIS_REPLY_ERROR) {
                  return done(nullptr, "redis script: " + std::string(again->str, again->len));
                }
                done(std::move(again), why);
              });
        }
        done(std::move(reply), error);
      });
}

}  // namespace mg::gateway
