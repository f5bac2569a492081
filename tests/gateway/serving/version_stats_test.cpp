// A version's statistics are counted in per-thread shards: what many threads record comes
// out whole in one snapshot, as the Triton statistics extension and the canary guard read it.
#include "gateway/serving/version_stats.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

namespace mg::gateway {
namespace {

using std::chrono::nanoseconds;

TEST(VersionStats, ASnapshotSumsWhatEveryThreadRecorded) {
  VersionStats stats;
  constexpr int kThreads = 11;  // more than the shards: some threads share one
  constexpr int kRequests = 5'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&stats, t] {
      for (int i = 0; i < kRequests; ++i) {
        VersionStats::Request r;
        r.ok = i % 5 != 0;  // one in five fails
        r.items = 2;
        r.total = nanoseconds(1000 + t);
        r.queue = nanoseconds(10);
        r.input = nanoseconds(20);
        r.infer = nanoseconds(30);
        r.output = nanoseconds(-1);  // not reached: not counted
        stats.record(r);
        if (i % 2 == 0) stats.record_batch();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const VersionStats::Snapshot s = stats.snapshot();
  const uint64_t ok_per_thread = kRequests - kRequests / 5;
  const uint64_t ok = kThreads * ok_per_thread;
  const uint64_t failed = kThreads * (kRequests / 5);
  EXPECT_EQ(s.success.count, ok);
  EXPECT_EQ(s.fail.count, failed);
  uint64_t success_ns = 0;
  uint64_t fail_ns = 0;
  for (int t = 0; t < kThreads; ++t) {
    success_ns += ok_per_thread * (1000 + t);
    fail_ns += (kRequests / 5) * (1000 + t);
  }
  EXPECT_EQ(s.success.ns, success_ns);
  EXPECT_EQ(s.fail.ns, fail_ns);
  EXPECT_EQ(s.queue.count, ok);
  EXPECT_EQ(s.queue.ns, ok * 10);
  EXPECT_EQ(s.compute_input.ns, ok * 20);
  EXPECT_EQ(s.compute_infer.ns, ok * 30);
  EXPECT_EQ(s.compute_output.count, 0u);
  EXPECT_EQ(s.inference_count, ok * 2);
  EXPECT_EQ(s.execution_count, static_cast<uint64_t>(kThreads * (kRequests / 2)));
  EXPECT_GT(s.last_inference_ms, 0u);
  // The latency histogram (successful requests) holds every one of them, in its bucket.
  const LatencyHistogram::Counts counts = stats.latency().snapshot();
  uint64_t in_histogram = 0;
  for (const uint64_t c : counts) in_histogram += c;
  EXPECT_EQ(in_histogram, ok);
  EXPECT_EQ(counts[LatencyHistogram::bucket_of(nanoseconds(1000))],
            ok);  // 1000–1010 ns: one bucket
}

}  // namespace
}  // namespace mg::gateway
