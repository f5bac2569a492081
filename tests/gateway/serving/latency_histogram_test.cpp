#include "gateway/serving/latency_histogram.h"

#include <gtest/gtest.h>

#include <chrono>
#include <random>

namespace mg::gateway {
namespace {

using std::chrono::microseconds;
using std::chrono::nanoseconds;

TEST(LatencyHistogram, EveryDurationFallsInTheBucketWhoseBoundsHoldIt) {
  std::mt19937_64 random(7);
  for (int i = 0; i < 100000; ++i) {
    const nanoseconds d(static_cast<int64_t>(random() % (uint64_t{1} << 42)));
    const std::size_t b = LatencyHistogram::bucket_of(d);
    ASSERT_LE(d, LatencyHistogram::upper_bound(b)) << d.count();
    if (b > 0) {
      ASSERT_GT(d, LatencyHistogram::upper_bound(b - 1)) << d.count();
    }
    // A bucket's width is at most an eighth of what it holds (above the first 8).
    if (b >= 8) {
      const double low = static_cast<double>(LatencyHistogram::upper_bound(b - 1).count());
      const double high = static_cast<double>(LatencyHistogram::upper_bound(b).count());
      ASSERT_LE((high - low) / low, 0.126);
    }
  }
  EXPECT_EQ(LatencyHistogram::bucket_of(nanoseconds(-5)), 0u);
  EXPECT_EQ(LatencyHistogram::bucket_of(std::chrono::hours(100000)),
            LatencyHistogram::kBuckets - 1);
}

TEST(LatencyHistogram, TheQuantileOfAWindowIgnoresWhatCameBefore) {
  LatencyHistogram h;
  for (int i = 0; i < 1000; ++i) h.record(microseconds(10));  // before the window
  const LatencyHistogram::Counts before = h.snapshot();
  for (int i = 0; i < 98; ++i) h.record(microseconds(100));
  for (int i = 0; i < 2; ++i) h.record(microseconds(5000));
  const LatencyHistogram::Counts now = h.snapshot();
  const auto p50 = LatencyHistogram::quantile(now, before, 0.50);
  const auto p99 = LatencyHistogram::quantile(now, before, 0.99);
  EXPECT_GE(p50, microseconds(100));
  EXPECT_LE(p50, microseconds(113));
  EXPECT_GE(p99, microseconds(5000));
  EXPECT_LE(p99, microseconds(5630));
  EXPECT_EQ(LatencyHistogram::quantile(now, now, 0.99), nanoseconds(0));  // an empty window
}

}  // namespace
}  // namespace mg::gateway
