#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "common/thread_shard.h"

namespace mg::gateway {

// Request durations counted in logarithmic buckets (8 per doubling, so a bucket spans at
// most 1/8 of its lower bound; from 128 ns to over an hour): recording is one relaxed
// atomic add (in the calling thread's shard, common/thread_shard.h: every request records
// one), and a percentile over any window is the difference of two snapshots. The canary
// guard judges a canary's p99 with it.
class LatencyHistogram {
 public:
  static constexpr std::size_t kBuckets = 288;
  using Counts = std::array<uint64_t, kBuckets>;

  void record(std::chrono::nanoseconds duration) {
    shards_[thread_shard<kShards>()][bucket_of(duration)].fetch_add(1, std::memory_order_relaxed);
  }
  Counts snapshot() const;

  static std::size_t bucket_of(std::chrono::nanoseconds duration);
  // The largest duration bucket `bucket` holds.
  static std::chrono::nanoseconds upper_bound(std::size_t bucket);
  // The q-quantile (0 < q <= 1) of the requests counted in `now` but not in `before` (an
  // earlier snapshot of the same histogram), as its bucket's upper bound; 0 when none.
  static std::chrono::nanoseconds quantile(const Counts& now, const Counts& before, double q);

 private:
  static constexpr std::size_t kShards = 4;
  struct alignas(64) Shard : std::array<std::atomic<uint64_t>, kBuckets> {};
  std::array<Shard, kShards> shards_{};
};

}  // namespace mg::gateway
