// The limits shared through Redis, against a real redis-server (the test command starts
// one: tests/cluster/redis_server.sh). Two RedisLimits objects stand for two replicas:
// what one admits counts against the other.
#include "gateway/limits/redis_limits.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <thread>
#include <vector>

#include "gateway/limits/periods.h"
#include "tests/gateway/limits/test_redis.h"

namespace mg::gateway {
namespace {

using Refusal = SharedAdmission::Refusal;

using testing::test_redis_url;

class RedisLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = test_redis_url();
    if (url_.empty()) GTEST_SKIP() << "no Redis test server";
    replica_a_ = std::make_unique<RedisLimits>(
        std::make_shared<RedisPipeline>(parse_redis_url(url_)), "mg-test:{usage}:live");
    replica_b_ = std::make_unique<RedisLimits>(
        std::make_shared<RedisPipeline>(parse_redis_url(url_)), "mg-test:{usage}:live");
  }
  // Names unique to this process and test: tests share the server.
  std::string unique(const std::string& prefix) {
    static std::atomic<int> counter{0};
    std::string id = prefix + std::to_string(::getpid() % 100000) + "x" + std::to_string(counter++);
    id.resize(12, '0');
    return id;
  }
  SharedAdmitRequest request(const std::string& key) {
    SharedAdmitRequest r;
    r.key_id = key;
    r.tenant = "t-" + key;
    r.now = std::time(nullptr);
    return r;
  }

  std::string url_;
  std::unique_ptr<RedisLimits> replica_a_, replica_b_;
};

TEST_F(RedisLimitsTest, ABurstIsSharedByTheReplicas) {
  SharedAdmitRequest r = request(unique("k"));
  r.rate = 0.001;  // one token per 1000 s: only the burst is admitted within the test
  r.burst = 10;
  int admitted = 0;
  for (int i = 0; i < 40; ++i) {
    RedisLimits& replica = i % 2 == 0 ? *replica_a_ : *replica_b_;
    const SharedAdmission a = replica.admit(r);
    ASSERT_TRUE(a.rate);
    if (a.refusal == Refusal::kNone) {
      ++admitted;
      EXPECT_EQ(a.rate->state.limit, 10);
      EXPECT_EQ(a.rate->state.remaining, 10 - admitted);
    } else {
      EXPECT_EQ(a.refusal, Refusal::kRate);
      EXPECT_FALSE(a.rate->allowed);
      EXPECT_GE(a.rate->retry_after, 1);
    }
  }
  EXPECT_EQ(admitted, 10);
}

TEST_F(RedisLimitsTest, AQuotaGivesExactlyItsLimitToConcurrentClientsOnTwoReplicas) {
  const std::string key = unique("q");
  std::atomic<int> admitted{0}, refused{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      RedisLimits& replica = c % 2 == 0 ? *replica_a_ : *replica_b_;
      SharedAdmitRequest r = request(key);
      r.quota_limit = 1000;
      r.period = registry::QuotaPeriod::kDay;
      for (int i = 0; i < 300; ++i) {
        const SharedAdmission a = replica.admit(r);
        (a.refusal == Refusal::kNone ? admitted : refused)++;
        if (a.refusal == Refusal::kQuota) {
          EXPECT_EQ(a.quota->state.remaining, 0);
          EXPECT_GE(a.quota->retry_after, 1);
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(admitted.load(), 1000);
  EXPECT_EQ(refused.load(), 200);
}

TEST_F(RedisLimitsTest, ANonceSpentOnOneReplicaIsReplayedOnTheOther) {
  SharedAdmitRequest r = request(unique("n"));
  r.nonce = "0123456789abcdef0123";
  r.nonce_expires = r.now + 300;
  EXPECT_EQ(replica_a_->admit(r).refusal, Refusal::kNone);
  EXPECT_EQ(replica_b_->admit(r).refusal, Refusal::kReplayed);
  EXPECT_EQ(replica_a_->admit(r).refusal, Refusal::kReplayed);
  // Another key may use the same nonce: nonces are per key.
  SharedAdmitRequest other = request(unique("n"));
  other.nonce = r.nonce;
  other.nonce_expires = r.nonce_expires;
  EXPECT_EQ(replica_b_->admit(other).refusal, Refusal::kNone);
}

TEST_F(RedisLimitsTest, ARefusedRequestSpendsNeitherItsNonceNorTheQuota) {
  SharedAdmitRequest r = request(unique("r"));
  r.rate = 0.001;
  r.burst = 1;
  r.quota_limit = 5;
  r.period = registry::QuotaPeriod::kDay;
  EXPECT_EQ(replica_a_->admit(r).refusal, Refusal::kNone);  // the one token
  r.nonce = "fedcba9876543210fedc";
  r.nonce_expires = r.now + 300;
  EXPECT_EQ(replica_b_->admit(r).refusal, Refusal::kRate);
  // Not spent: with the rate limit lifted the same nonce passes once, and the quota
  // counted two requests, not three.
  r.rate = 0;
  const SharedAdmission a = replica_a_->admit(r);
  EXPECT_EQ(a.refusal, Refusal::kNone);
  ASSERT_TRUE(a.quota);
  EXPECT_EQ(a.quota->state.remaining, 3);
  EXPECT_EQ(replica_b_->admit(r).refusal, Refusal::kReplayed);
}

TEST_F(RedisLimitsTest, AQuotaCounterExpiresADayAfterItsPeriod) {
  // The script sets the expiry when the counter is created and leaves it alone after.
  SharedAdmitRequest r = request(unique("e"));
  r.quota_limit = 100;
  r.period = registry::QuotaPeriod::kDay;
  const std::string counter =
      "mg:quota:" + r.tenant + ":" + std::to_string(period_start(r.period, r.now));
  const int64_t expires = period_end(r.period, r.now) + 86400;
  RedisPool redis(parse_redis_url(url_));
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(replica_a_->admit(r).refusal, Refusal::kNone);
    const auto at = redis.command({"EXPIRETIME", counter});
    ASSERT_EQ(at->type, REDIS_REPLY_INTEGER);
    EXPECT_EQ(at->integer, expires) << "after request " << i + 1;
  }
  EXPECT_EQ(std::string(redis.command({"GET", counter})->str), "3");
}

TEST_F(RedisLimitsTest, AnEmptiedScriptCacheIsRefilled) {
  // What Redis forgets when it restarts: the next admit loads the script again.
  auto flush = RedisPool(parse_redis_url(url_)).command({"SCRIPT", "FLUSH"});
  SharedAdmitRequest r = request(unique("s"));
  r.rate = 0.001;
  r.burst = 2;
  EXPECT_EQ(replica_a_->admit(r).refusal, Refusal::kNone);
  EXPECT_EQ(replica_a_->admit(r).refusal, Refusal::kNone);
  EXPECT_EQ(replica_a_->admit(r).refusal, Refusal::kRate);
}

TEST(RedisLimits, AnUnreachableRedisIsReportedAsSuch) {
  RedisAddress nowhere = parse_redis_url("redis://127.0.0.1:1/0");  // nothing listens on port 1
  RedisLimits limits(std::make_shared<RedisPipeline>(nowhere), "mg-test:{usage}:live");
  SharedAdmitRequest r;
  r.key_id = "abcdefabcdef";
  r.rate = 1;
  EXPECT_THROW(limits.admit(r), RedisUnavailable);
}

TEST(RedisLimits, UrlsAreParsedOrRefusedByName) {
  const RedisAddress a = parse_redis_url("redis://cache.internal:6380/2");
  EXPECT_EQ(a.host, "cache.internal");
  EXPECT_EQ(a.port, 6380);
  EXPECT_EQ(a.db, 2);
  const RedisAddress b = parse_redis_url("redis://:s3cret@10.0.0.5");
  EXPECT_EQ(b.host, "10.0.0.5");
  EXPECT_EQ(b.port, 6379);
  EXPECT_EQ(b.password, "s3cret");
  EXPECT_THROW(parse_redis_url("http://x"), std::invalid_argument);
  EXPECT_THROW(parse_redis_url("redis://x:port"), std::invalid_argument);
  EXPECT_THROW(parse_redis_url("redis://x:6379/db"), std::invalid_argument);
}

}  // namespace
}  // namespace mg::gateway
