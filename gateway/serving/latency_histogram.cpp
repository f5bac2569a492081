#include "gateway/serving/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace mg::gateway {
namespace {

constexpr int kUnitShift = 7;  // 128 ns units
constexpr int kSubBits = 3;    // 8 buckets per doubling

}  // namespace

std::size_t LatencyHistogram::bucket_of(std::chrono::nanoseconds duration) {
  const uint64_t units =
      static_cast<uint64_t>(std::max<int64_t>(0, duration.count())) >> kUnitShift;
  if (units < (1u << kSubBits)) return units;
  const int exponent = std::bit_width(units) - 1;  // >= kSubBits
  const uint64_t sub = (units >> (exponent - kSubBits)) & ((1u << kSubBits) - 1);
  const std::size_t bucket = ((exponent - kSubBits + 1) << kSubBits) + sub;
  return std::min(bucket, kBuckets - 1);
}

std::chrono::nanoseconds LatencyHistogram::upper_bound(std::size_t bucket) {
  if (bucket < (1u << kSubBits)) return std::chrono::nanoseconds(((bucket + 1) << kUnitShift) - 1);
  const int exponent = static_cast<int>(bucket >> kSubBits) + kSubBits - 1;
  const uint64_t sub = bucket & ((1u << kSubBits) - 1);
  const uint64_t next = ((1u << kSubBits) + sub + 1) << (exponent - kSubBits);
  return std::chrono::nanoseconds(static_cast<int64_t>((next << kUnitShift) - 1));
}

LatencyHistogram::Counts LatencyHistogram::snapshot() const {
  Counts out{};
  for (const Shard& shard : shards_) {
    for (std::size_t i = 0; i < kBuckets; ++i) out[i] += shard[i].load(std::memory_order_relaxed);
  }
  return out;
}

std::chrono::nanoseconds LatencyHistogram::quantile(const Counts& now, const Counts& before,
                                                    double q) {
  uint64_t total = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) total += now[i] - std::min(now[i], before[i]);
  if (total == 0) return std::chrono::nanoseconds(0);
  // Nearest rank: the smallest bucket holding at least q of the window's requests.
  const auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total)));
  uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += now[i] - std::min(now[i], before[i]);
    if (seen >= std::max<uint64_t>(rank, 1)) return upper_bound(i);
  }
  return upper_bound(kBuckets - 1);
}

}  // namespace mg::gateway
