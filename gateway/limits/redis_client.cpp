#include "gateway/limits/redis_client.h"

#include <hiredis/hiredis.h>
#include <openssl/sha.h>

#include <charconv>

#include "modelgate/hex.h"

namespace mg::gateway {
namespace {

constexpr std::size_t kMaxIdle = 64;

timeval to_timeval(std::chrono::milliseconds ms) {
  return timeval{static_cast<time_t>(ms.count() / 1000),
                 static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

int parse_int(std::string_view text, const std::string& url, const char* what) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0) {
    throw std::invalid_argument("redis URL '" + url + "': bad " + what);
  }
  return value;
}

// One command for hiredis: its argv as pointers and lengths (binary-safe).
struct ArgvView {
  explicit ArgvView(const std::vector<std::string>& argv) {
    args.reserve(argv.size());
    lengths.reserve(argv.size());
    for (const auto& a : argv) {
      args.push_back(a.data());
      lengths.push_back(a.size());
    }
  }
  int count() const { return static_cast<int>(args.size()); }
  std::vector<const char*> args;
  std::vector<size_t> lengths;
};

RedisReplyPtr run_command(redisContext* c, const std::vector<std::string>& argv) {
  ArgvView view(argv);
  return RedisReplyPtr(static_cast<redisReply*>(
      redisCommandArgv(c, view.count(), view.args.data(), view.lengths.data())));
}

}  // namespace

void append_command(redisContext* c, const std::vector<std::string>& argv) {
  ArgvView view(argv);
  redisAppendCommandArgv(c, view.count(), view.args.data(), view.lengths.data());
}

void RedisReplyDeleter::operator()(redisReply* reply) const { freeReplyObject(reply); }

RedisAddress parse_redis_url(const std::string& url) {
  constexpr std::string_view kScheme = "redis://";
  if (!url.starts_with(kScheme)) {
    throw std::invalid_argument("redis URL '" + url + "' must start with redis://");
  }
  std::string_view rest = std::string_view(url).substr(kScheme.size());
  RedisAddress address;
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view user_info = rest.substr(0, at);
    if (auto colon = user_info.find(':'); colon != std::string_view::npos) {
      address.password = std::string(user_info.substr(colon + 1));
    }
    rest = rest.substr(at + 1);
  }
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    if (slash + 1 < rest.size()) address.db = parse_int(rest.substr(slash + 1), url, "database");
    rest = rest.substr(0, slash);
  }
  if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    address.port = parse_int(rest.substr(colon + 1), url, "port");
    rest = rest.substr(0, colon);
  }
  if (!rest.empty()) address.host = std::string(rest);
  return address;
}

RedisPool::RedisPool(RedisAddress address, std::chrono::milliseconds timeout)
    : address_(std::move(address)), timeout_(timeout) {}

RedisPool::~RedisPool() {
  for (redisContext* c : idle_) redisFree(c);
}

redisContext* RedisPool::connect() {
  redisContext* c =
      redisConnectWithTimeout(address_.host.c_str(), address_.port, to_timeval(timeout_));
  if (c == nullptr || c->err != 0) {
    const std::string why = c != nullptr ? c->errstr : "out of memory";
    if (c != nullptr) redisFree(c);
    throw RedisUnavailable("redis " + address_.host + ":" + std::to_string(address_.port) +
                           " unreachable: " + why);
  }
  redisSetTimeout(c, to_timeval(timeout_));
  redisEnableKeepAlive(c);
  auto setup = [&](const std::vector<std::string>& argv) {
    RedisReplyPtr reply = run_command(c, argv);
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
      const std::string why = reply ? std::string(reply->str, reply->len) : c->errstr;
      redisFree(c);
      throw RedisUnavailable("redis: " + why);
    }
  };
  if (!address_.password.empty()) setup({"AUTH", address_.password});
  if (address_.db != 0) setup({"SELECT", std::to_string(address_.db)});
  return c;
}

RedisReplyPtr RedisPool::command(const std::vector<std::string>& argv) {
  redisContext* c = nullptr;
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      c = idle_.back();
      idle_.pop_back();
    }
  }
  if (c == nullptr) c = connect();
  RedisReplyPtr reply = run_command(c, argv);
  if (!reply) {
    // The connection is broken (or timed out mid-reply): never reuse it.
    const std::string why = c->errstr;
    redisFree(c);
    throw RedisUnavailable("redis: " + why);
  }
  {
    std::lock_guard lock(mutex_);
    if (idle_.size() < kMaxIdle) {
      idle_.push_back(c);
      c = nullptr;
    }
  }
  if (c != nullptr) redisFree(c);
  return reply;
}

RedisPipeline::RedisPipeline(RedisAddress address, std::chrono::milliseconds timeout)
    : connector_(std::move(address), timeout), timeout_(timeout) {}

RedisPipeline::~RedisPipeline() {
  if (context_ != nullptr) redisFree(context_);
}

RedisReplyPtr RedisPipeline::command(std::vector<std::string> argv) {
  std::future<RedisReplyPtr> reply;
  std::unique_lock lock(mutex_);
  queue_.push_back(Call{std::move(argv), {}});
  reply = queue_.back().reply.get_future();
  if (!leading_) {
    // Lead: send what is waiting (this call included), until nothing is. A call queued
    // while leading_ is true is always sent, since the queue is checked under the lock
    // before leading_ goes back to false.
    leading_ = true;
    std::vector<Call> calls;
    while (!queue_.empty()) {
      calls.clear();
      while (!queue_.empty() && calls.size() < 512) {
        calls.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      lock.unlock();
      send(calls);
      lock.lock();
    }
    leading_ = false;
    lock.unlock();
    return reply.get();
  }
  lock.unlock();
  const auto bound = timeout_ * 4;
  if (reply.wait_for(bound) != std::future_status::ready) {
    throw RedisUnavailable("redis: no answer within " + std::to_string(bound.count()) + " ms");
  }
  return reply.get();
}

void RedisPipeline::send(std::vector<Call>& calls) {
  auto fail_from = [&](std::size_t first, const std::string& why) {
    for (std::size_t i = first; i < calls.size(); ++i) {
      calls[i].reply.set_exception(std::make_exception_ptr(RedisUnavailable(why)));
    }
  };
  if (context_ == nullptr) {
    try {
      context_ = connector_.connect();
    } catch (const RedisUnavailable& e) {
      fail_from(0, e.what());
      return;
    }
  }
  for (Call& call : calls) append_command(context_, call.argv);
  for (std::size_t i = 0; i < calls.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(context_, &raw) != REDIS_OK || raw == nullptr) {
      const std::string why = std::string("redis: ") + context_->errstr;
      redisFree(context_);
      context_ = nullptr;
      fail_from(i, why);
      return;
    }
    calls[i].reply.set_value(RedisReplyPtr(static_cast<redisReply*>(raw)));
  }
}

RedisScript::RedisScript(std::string text) : text_(std::move(text)) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text_.data()), text_.size(), digest);
  sha_ = modelgate::to_hex(digest, sizeof digest);
}

std::vector<std::string> RedisScript::argv(const std::vector<std::string>& keys,
                                           const std::vector<std::string>& args, bool text) const {
  std::vector<std::string> argv;
  argv.reserve(3 + keys.size() + args.size());
  argv.push_back(text ? "EVAL" : "EVALSHA");
  argv.push_back(text ? text_ : sha_);
  argv.push_back(std::to_string(keys.size()));
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

RedisReplyPtr RedisScript::run(RedisPipeline& redis, const std::vector<std::string>& keys,
                               const std::vector<std::string>& args) const {
  RedisReplyPtr reply = redis.command(argv(keys, args, false));
  if (reply->type == REDIS_REPLY_ERROR &&
      std::string_view(reply->str, reply->len).starts_with("NOSCRIPT")) {
    reply = redis.command(argv(keys, args, true));
  }
  if (reply->type == REDIS_REPLY_ERROR) {
    throw RedisUnavailable("redis script: " + std::string(reply->str, reply->len));
  }
  return reply;
}

}  // namespace mg::gateway
