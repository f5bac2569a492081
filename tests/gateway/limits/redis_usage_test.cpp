// Usage counters shared through a real redis-server (the test command starts one:
// tests/cluster/redis_server.sh) and handed to a real registry's ledger exactly once. Each
// RedisUsage object stands for a replica; a "crash" is a replica that stops half-way
// through the hand-over (it never settles), whose lock then expires.
#include "gateway/limits/redis_usage.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <thread>
#include <vector>

#include "gateway/limits/limits.h"
#include "gateway/limits/redis_limits.h"
#include "registry/registry.h"
#include "tests/gateway/limits/test_redis.h"
#include "tests/registry/temp_dir.h"

namespace mg::gateway {
namespace {

using namespace std::chrono_literals;
using registry::UsageRow;

using testing::test_redis_url;

class RedisUsageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string url = test_redis_url();
    if (url.empty()) GTEST_SKIP() << "no Redis test server";
    address_ = parse_redis_url(url);
    // Tests run in parallel against one server: each gets keys of its own.
    static std::atomic<int> counter{0};
    prefix_ = "test" + std::to_string(::getpid()) + "x" + std::to_string(counter++);
    registry_ = std::make_unique<registry::Registry>(registry::RegistryOptions{dir_.path()});
  }
  // A replica: its own connection and lock token.
  std::unique_ptr<RedisUsage> replica(std::chrono::milliseconds lock_time = 10s) {
    return std::make_unique<RedisUsage>(std::make_shared<RedisPipeline>(address_), lock_time,
                                        prefix_);
  }
  UsageRow row(const std::string& key, int64_t items = 1, int64_t errors = 0) {
    return UsageRow{1'700'000'000, "acme", key, "mlp", 3, 1, items, errors};
  }
  int64_t ledger_requests() {
    int64_t total = 0;
    for (const UsageRow& r : registry_->usage("acme", 0, 0)) total += r.requests;
    return total;
  }

  registry::testing::TempDir dir_;
  RedisAddress address_;
  std::string prefix_;
  std::unique_ptr<registry::Registry> registry_;
};

TEST_F(RedisUsageTest, WhatReplicasRecordReachesTheLedgerOnce) {
  auto a = replica(), b = replica();
  a->record({row("k1", 4)});
  b->record({row("k1", 2, 1)});
  b->record({row("k2")});
  const auto batch = a->claim();
  ASSERT_TRUE(batch);
  ASSERT_EQ(batch->rows.size(), 2u);  // sorted by key
  EXPECT_EQ(batch->rows[0].key_id, "k1");
  EXPECT_EQ(batch->rows[0].requests, 2);
  EXPECT_EQ(batch->rows[0].items, 6);
  EXPECT_EQ(batch->rows[0].errors, 1);
  EXPECT_EQ(batch->rows[1].key_id, "k2");
  EXPECT_EQ(batch->rows[0].hour, 1'700'000'000);
  EXPECT_EQ(batch->rows[0].model, "mlp");
  EXPECT_EQ(batch->rows[0].version, 3);
  EXPECT_TRUE(registry_->add_usage_batch(batch->id, batch->rows));
  a->settle(*batch);
  EXPECT_EQ(ledger_requests(), 3);
  EXPECT_FALSE(b->claim());  // nothing left
}

TEST_F(RedisUsageTest, OnlyTheLockHolderFlushesUntilItsLockExpires) {
  auto a = replica(300ms), b = replica(300ms);
  a->record({row("k1")});
  const auto held = a->claim();
  ASSERT_TRUE(held);
  EXPECT_FALSE(b->claim());  // A holds the lock
  std::this_thread::sleep_for(400ms);
  const auto taken = b->claim();  // A died: its lock expired, its batch is still pending
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken->id, held->id);
}

TEST_F(RedisUsageTest, AFlusherDyingAfterTheLedgerWriteCountsNothingTwice) {
  auto a = replica(200ms), b = replica(200ms);
  for (int i = 0; i < 5; ++i) a->record({row("k1")});
  const auto batch = a->claim();
  ASSERT_TRUE(batch);
  EXPECT_TRUE(registry_->add_usage_batch(batch->id, batch->rows));
  // A dies here, before settle. Meanwhile more requests are counted.
  b->record({row("k1")});
  std::this_thread::sleep_for(300ms);
  const auto again = b->claim();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->id, batch->id);  // the same batch, not merged with the new request
  EXPECT_EQ(again->rows.at(0).requests, 5);
  EXPECT_FALSE(registry_->add_usage_batch(again->id, again->rows));  // the ledger has it
  b->settle(*again);
  const auto next = b->claim();
  ASSERT_TRUE(next);
  EXPECT_NE(next->id, batch->id);
  EXPECT_EQ(next->rows.at(0).requests, 1);
  EXPECT_TRUE(registry_->add_usage_batch(next->id, next->rows));
  b->settle(*next);
  EXPECT_EQ(ledger_requests(), 6);
}

TEST_F(RedisUsageTest, AFlusherDyingBeforeTheLedgerWriteLosesNothing) {
  auto a = replica(200ms), b = replica(200ms);
  for (int i = 0; i < 3; ++i) a->record({row("k1")});
  ASSERT_TRUE(a->claim());  // cut, then A dies before writing the ledger
  std::this_thread::sleep_for(300ms);
  const auto batch = b->claim();
  ASSERT_TRUE(batch);
  EXPECT_TRUE(registry_->add_usage_batch(batch->id, batch->rows));
  b->settle(*batch);
  EXPECT_EQ(ledger_requests(), 3);
}

// Two meters (replicas) recording from many threads and flushing every 5 ms, racing for
// the lock: the ledger ends with exactly what was recorded.
TEST_F(RedisUsageTest, ConcurrentReplicasMeterExactly) {
  constexpr int kThreads = 4, kPerThread = 250;
  {
    Limits a(*registry_, {}, 5ms, replica(1s));
    Limits b(*registry_, {}, 5ms, replica(1s));
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        UsageMeter& meter = (t % 2 == 0 ? a : b).usage;
        for (int i = 0; i < kPerThread; ++i) {
          meter.record("acme", "k" + std::to_string(t), "mlp", 3, 2, i % 10 == 0, 1'700'000'000);
        }
      });
    }
    for (auto& thread : threads) thread.join();
  }  // the meters' last flushes
  // Whatever a last flush left pending (the other replica held the lock) is added by the
  // next flusher to come: here, one more.
  Limits last(*registry_, {}, 5ms, replica(1s));
  for (int i = 0; i < 400 && ledger_requests() < kThreads * kPerThread; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(ledger_requests(), kThreads * kPerThread);
  int64_t items = 0, errors = 0;
  for (const UsageRow& r : registry_->usage("acme", 0, 0)) {
    items += r.items;
    errors += r.errors;
  }
  EXPECT_EQ(items, 2 * kThreads * kPerThread);
  EXPECT_EQ(errors, kThreads * kPerThread / 10);
}

// The admit step counts an admitted inference request in the same script call; the answer
// corrects it when it differs (more items, an error, another version).
TEST_F(RedisUsageTest, AdmissionCountsTheRequestAndTheAnswerCorrectsIt) {
  auto pipeline = std::make_shared<RedisPipeline>(address_);
  auto usage = std::make_shared<RedisUsage>(pipeline, 10s, prefix_);
  RedisLimits limits(pipeline, usage->live_key());
  Limits meter(*registry_, {}, 1h, usage);
  auto admit = [&](const std::string& key, int64_t version) {
    SharedAdmitRequest request;
    request.key_id = key;
    request.tenant = "acme";
    request.now = 1'700'000'000;
    request.usage = UsageRow{1'700'000'000, "acme", key, "mlp", version, 1, 1, 0};
    EXPECT_EQ(limits.admit(request).refusal, SharedAdmission::Refusal::kNone);
    return *request.usage;
  };
  const UsageRow plain = admit("k1", 3);  // answered as counted: nothing to correct
  meter.usage.correct(plain, plain);
  const UsageRow batch = admit("k2", 3);  // answered with 8 items and an error
  UsageRow answered = batch;
  answered.items = 8;
  answered.errors = 1;
  meter.usage.correct(batch, answered);
  const UsageRow moved = admit("k3", 3);  // the alias moved: answered by version 4
  UsageRow by_four = moved;
  by_four.version = 4;
  meter.usage.correct(moved, by_four);
  const UsageRow lost = admit("k4", 3);  // never reached a version (e.g. a 404)
  meter.usage.correct(lost, std::nullopt);
  const auto batch_rows = usage->claim();
  ASSERT_TRUE(batch_rows);
  ASSERT_EQ(batch_rows->rows.size(), 3u) << "k3 on version 3 and k4 cancel out";
  EXPECT_EQ(batch_rows->rows[0].key_id, "k1");
  EXPECT_EQ(batch_rows->rows[0].requests, 1);
  EXPECT_EQ(batch_rows->rows[0].items, 1);
  EXPECT_EQ(batch_rows->rows[1].key_id, "k2");
  EXPECT_EQ(batch_rows->rows[1].items, 8);
  EXPECT_EQ(batch_rows->rows[1].errors, 1);
  EXPECT_EQ(batch_rows->rows[2].key_id, "k3");
  EXPECT_EQ(batch_rows->rows[2].version, 4);
  EXPECT_EQ(batch_rows->rows[2].requests, 1);
}

TEST_F(RedisUsageTest, WhileRedisIsDownUsageIsKeptInMemoryAndStillReachesTheLedger) {
  RedisAddress nowhere = parse_redis_url("redis://127.0.0.1:1/0");  // nothing listens there
  {
    Limits limits(
        *registry_, {}, 1h,
        std::make_shared<RedisUsage>(std::make_shared<RedisPipeline>(nowhere), 10s, prefix_));
    limits.usage.record("acme", "k1", "mlp", 3, 1, false, 1'700'000'000);
    limits.usage.record("acme", "k1", "mlp", 3, 1, false, 1'700'000'000);
    EXPECT_FALSE(limits.usage.flush());  // the memory part is written; Redis's is not
  }
  EXPECT_EQ(ledger_requests(), 2);
}

}  // namespace
}  // namespace mg::gateway
