#pragma once
// Per-thread shares of the metric series every request updates (a version's ok count,
// items, request and queue durations; a tenant's requests), folded into the exported
// prometheus-cpp series when scraped. prometheus-cpp updates a counter with a
// compare-and-swap loop on a shared double and a histogram under a mutex: the socket
// threads updating the same series at each request passed those cache lines and locks
// between cores. A share is written by the threads of one shard (common/thread_shard.h),
// nearly always one thread, and read only when folding. A fold racing an observation may
// take its histogram sum into one scrape and its bucket into the next: nothing is lost.
#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/thread_shard.h"

namespace mg::gateway {

inline constexpr std::size_t kHotShards = 8;

// A count's per-thread shares. Fold adds what was counted since the last fold to a
// prometheus::Counter (anything with Increment(double)).
class HotCounter {
 public:
  void add(uint64_t n) {
    shares_[thread_shard<kHotShards>()].value.fetch_add(n, std::memory_order_relaxed);
  }
  template <typename Counter>
  void fold(Counter& into) {
    uint64_t total = 0;
    for (Share& share : shares_) total += share.value.exchange(0, std::memory_order_relaxed);
    if (total > 0) into.Increment(static_cast<double>(total));
  }

 private:
  struct alignas(64) Share {
    std::atomic<uint64_t> value{0};
  };
  std::array<Share, kHotShards> shares_;
};

// A histogram's per-thread shares over Bounds upper bounds (and +Inf). Fold moves what was
// observed since the last fold into a prometheus::Histogram of the same bounds (anything
// with ObserveMultiple(bucket increments, sum)).
template <std::size_t Bounds>
class HotHistogram {
 public:
  explicit HotHistogram(const std::array<double, Bounds>& bounds) : bounds_(bounds) {}

  void observe(double value) {
    // The bucket prometheus-cpp's Observe picks: the first bound not below the value.
    const auto at = static_cast<std::size_t>(
        std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
    Share& share = shares_[thread_shard<kHotShards>()];
    share.counts[at].fetch_add(1, std::memory_order_relaxed);
    share.sum.fetch_add(value, std::memory_order_relaxed);  // one writer: no CAS retries
  }
  template <typename Histogram>
  void fold(Histogram& into) {
    std::vector<double> counts(Bounds + 1, 0.0);
    double sum = 0;
    bool any = false;
    for (Share& share : shares_) {
      for (std::size_t i = 0; i <= Bounds; ++i) {
        const uint64_t n = share.counts[i].exchange(0, std::memory_order_relaxed);
        counts[i] += static_cast<double>(n);
        any = any || n > 0;
      }
      sum += share.sum.exchange(0, std::memory_order_relaxed);
    }
    if (any) into.ObserveMultiple(counts, sum);
  }

 private:
  struct alignas(64) Share {
    std::array<std::atomic<uint64_t>, Bounds + 1> counts{};
    std::atomic<double> sum{0};
  };
  const std::array<double, Bounds>& bounds_;
  std::array<Share, kHotShards> shares_;
};

}  // namespace mg::gateway
