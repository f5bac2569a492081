#pragma once

#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <vector>

namespace mg::gateway {

// How a shadow candidate's answers compared with the served ones (docs/evaluation.md
// "Shadow"): kept by the candidate's loaded version, since it was loaded.
class ShadowStats {
 public:
  struct Snapshot {
    uint64_t requests = 0;  // copies sent to the candidate
    uint64_t errors = 0;    // copies it failed (never seen by callers)
    uint64_t dropped = 0;   // copies not run: the shadow's queue was full (a busy server)
    uint64_t rows = 0;      // rows compared
    uint64_t agreed = 0;    // rows whose top-1 class matched the served answer's
    double max_abs_diff = 0;
    double p50_ms = 0, p99_ms = 0;  // the candidate's time per copy
  };

  // One compared copy: the served and the candidate's scores of the first output, `rows`
  // rows each (row size values.size() / rows), and the candidate's time.
  void record(std::span<const float> served, std::span<const float> candidate, uint64_t rows,
              double seconds);
  void record_error();
  void record_dropped();
  Snapshot snapshot() const;

 private:
  static constexpr std::size_t kLatencySamples = 4096;  // the newest, for percentiles
  mutable std::mutex mutex_;
  Snapshot totals_;
  std::vector<double> latencies_ms_;
  std::size_t next_sample_ = 0;
};

}  // namespace mg::gateway
