#include "gateway/serving/shadow_stats.h"

#include <algorithm>
#include <cmath>

#include "common/percentile.h"

namespace mg::gateway {
namespace {

std::size_t argmax(std::span<const float> row) {
  return static_cast<std::size_t>(std::max_element(row.begin(), row.end()) - row.begin());
}

}  // namespace

void ShadowStats::record(std::span<const float> served, std::span<const float> candidate,
                         uint64_t rows, double seconds) {
  if (rows == 0 || served.size() != candidate.size() || served.size() % rows != 0) {
    record_error();  // answers of different shapes cannot agree
    return;
  }
  const std::size_t width = served.size() / rows;
  uint64_t agreed = 0;
  double max_diff = 0;
  for (std::size_t row = 0; row < rows; ++row) {
    const auto a = served.subspan(row * width, width), b = candidate.subspan(row * width, width);
    agreed += argmax(a) == argmax(b) ? 1 : 0;
    for (std::size_t i = 0; i < width; ++i) {
      const double diff = std::abs(static_cast<double>(a[i]) - b[i]);
      max_diff = std::isnan(diff) ? INFINITY : std::max(max_diff, diff);
    }
  }
  std::lock_guard lock(mutex_);
  ++totals_.requests;
  totals_.rows += rows;
  totals_.agreed += agreed;
  totals_.max_abs_diff = std::max(totals_.max_abs_diff, max_diff);
  if (latencies_ms_.size() < kLatencySamples) {
    latencies_ms_.push_back(seconds * 1e3);
  } else {
    latencies_ms_[next_sample_++ % kLatencySamples] = seconds * 1e3;
  }
}

void ShadowStats::record_error() {
  std::lock_guard lock(mutex_);
  ++totals_.requests;
  ++totals_.errors;
}

void ShadowStats::record_dropped() {
  std::lock_guard lock(mutex_);
  ++totals_.dropped;
}

ShadowStats::Snapshot ShadowStats::snapshot() const {
  std::lock_guard lock(mutex_);
  Snapshot out = totals_;
  out.p50_ms = nearest_rank_percentile(latencies_ms_, 0.50);
  out.p99_ms = nearest_rank_percentile(latencies_ms_, 0.99);
  return out;
}

}  // namespace mg::gateway
