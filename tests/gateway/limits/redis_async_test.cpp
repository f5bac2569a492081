// The event-loop-driven Redis connection of a socket thread, against the real redis-server
// the test command starts, on the HTTPS server's own EventLoop (an Asio io_context run by
// the test's thread).
#include "gateway/limits/redis_async.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <cstdlib>
#include <fstream>

#include "gateway/http/asio_event_loop.h"
#include "gateway/limits/redis_limits.h"
#include "tests/gateway/limits/test_redis.h"

namespace mg::gateway {
namespace {

using namespace std::chrono_literals;

using testing::test_redis_url;

class AsyncRedisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string url = test_redis_url();
    if (url.empty()) GTEST_SKIP() << "no Redis test server";
    address_ = parse_redis_url(url);
    loop_ = make_event_loop(context_);
    EventLoop::set_current(loop_.get());
  }
  void TearDown() override {
    EventLoop::set_current(nullptr);
    loop_.reset();
  }
  // Runs the loop until `done` or 5 s.
  void run_until(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      context_.restart();
      context_.run_for(10ms);
    }
  }
  std::string unique(const std::string& prefix) {
    return prefix + std::to_string(::getpid()) + "x" + std::to_string(counter_++);
  }

  RedisAddress address_;
  boost::asio::io_context context_;
  std::unique_ptr<EventLoop> loop_;
  int counter_ = 0;
};

TEST_F(AsyncRedisTest, RepliesComeBackInOrderOnTheLoopThread) {
  auto redis = std::make_shared<AsyncRedis>(address_, *loop_);
  const std::string key = unique("async-order-");
  std::vector<long long> seen;
  constexpr int kCommands = 500;  // more than one read's worth of replies
  for (int i = 0; i < kCommands; ++i) {
    redis->command({"INCR", key}, [&](RedisReplyPtr reply, const std::string& error) {
      ASSERT_TRUE(reply) << error;
      ASSERT_EQ(reply->type, REDIS_REPLY_INTEGER);
      seen.push_back(reply->integer);
    });
  }
  EXPECT_TRUE(seen.empty());  // nothing is sent until the loop runs
  run_until([&] { return seen.size() == kCommands; });
  ASSERT_EQ(seen.size(), static_cast<std::size_t>(kCommands));
  for (int i = 0; i < kCommands; ++i) EXPECT_EQ(seen[i], i + 1);
}

TEST_F(AsyncRedisTest, AnUnreachableRedisFailsTheCommandAtOnceAndIsRetriedLater) {
  auto redis = std::make_shared<AsyncRedis>(parse_redis_url("redis://127.0.0.1:1/0"), *loop_);
  std::string error;
  bool called = false;
  redis->command({"PING"}, [&](RedisReplyPtr reply, const std::string& why) {
    EXPECT_FALSE(reply);
    error = why;
    called = true;
  });
  EXPECT_TRUE(called);
  EXPECT_NE(error.find("unreachable"), std::string::npos) << error;
}

TEST_F(AsyncRedisTest, ACommandNotAnsweredInTimeFailsAndTheNextConnectsAgain) {
  auto redis = std::make_shared<AsyncRedis>(address_, *loop_, 200ms);
  // Redis holds every client's commands for a second: this one cannot be answered in time.
  RedisPool(address_).command({"CLIENT", "PAUSE", "1000", "WRITE"});
  std::string error;
  bool failed = false;
  redis->command({"INCR", unique("async-paused-")},
                 [&](RedisReplyPtr reply, const std::string& why) {
                   failed = !reply;
                   error = why;
                 });
  run_until([&] { return failed; });
  EXPECT_TRUE(failed);
  EXPECT_NE(error.find("no answer within 200 ms"), std::string::npos) << error;
  RedisPool(address_).command({"CLIENT", "UNPAUSE"});
  bool answered = false;
  redis->command({"PING"}, [&](RedisReplyPtr reply, const std::string&) { answered = !!reply; });
  run_until([&] { return answered; });
  EXPECT_TRUE(answered);
}

TEST_F(AsyncRedisTest, TheAdmitStepRunsOnTheLoopAndSurvivesAnEmptiedScriptCache) {
  auto pipeline = std::make_shared<RedisPipeline>(address_);
  RedisLimits limits(pipeline, unique("async-usage-"));
  RedisPool(address_).command({"SCRIPT", "FLUSH"});  // as after a Redis restart
  SharedAdmitRequest request;
  request.key_id = unique("k");
  request.tenant = "acme";
  request.rate = 0.001;
  request.burst = 2;
  request.now = 1'700'000'000;
  std::vector<SharedAdmission::Refusal> refusals;
  for (int i = 0; i < 3; ++i) {
    limits.admit_async(request, *loop_,
                       [&](std::optional<SharedAdmission> admission, std::exception_ptr failure) {
                         ASSERT_FALSE(failure);
                         ASSERT_TRUE(admission);
                         refusals.push_back(admission->refusal);
                       });
  }
  run_until([&] { return refusals.size() == 3; });
  ASSERT_EQ(refusals.size(), 3u);
  EXPECT_EQ(refusals[0], SharedAdmission::Refusal::kNone);
  EXPECT_EQ(refusals[1], SharedAdmission::Refusal::kNone);
  EXPECT_EQ(refusals[2], SharedAdmission::Refusal::kRate);
  // The blocking path agrees: the burst is spent.
  EXPECT_EQ(limits.admit(request).refusal, SharedAdmission::Refusal::kRate);
}

}  // namespace
}  // namespace mg::gateway
