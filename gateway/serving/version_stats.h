#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "gateway/serving/latency_histogram.h"

namespace mg::gateway {

// One loaded version's statistics in the shape of Triton's statistics extension (GET
// /v2/models/{m}/stats): counts and cumulative nanoseconds of its inference requests and of
// their phases, and how many items and batches it ran, since it was loaded. Relaxed
// atomics: recorded from any thread, read at any time (a snapshot's fields may be a
// request apart from each other). Counted in per-thread shards (common/thread_shard.h)
// summed by snapshot(): every request records here, and the socket threads updating one
// set of atomics passed its cache lines between cores at each request.
class VersionStats {
 public:
  struct Duration {
    uint64_t count = 0;
    uint64_t ns = 0;
  };
  struct Snapshot {
    // success/fail: whole requests (arrival to answer). The phases are those of successful
    // requests: queue (arrival to its batch starting), compute_input (decoding and
    // validating the request), compute_infer (its batch's execute), compute_output
    // (encoding the answer).
    Duration success, fail, queue, compute_input, compute_infer, compute_output;
    uint64_t inference_count = 0;    // items inferred (a request of batch N counts N)
    uint64_t execution_count = 0;    // batches the backend ran
    uint64_t last_inference_ms = 0;  // Unix time of the last request; 0 before any
  };

  // One request answered. A phase it did not reach is negative and not counted.
  struct Request {
    bool ok = false;
    uint64_t items = 0;
    std::chrono::nanoseconds total{0};
    std::chrono::nanoseconds queue{-1}, input{-1}, infer{-1}, output{-1};
  };
  void record(const Request& request);
  // One batch run by the backend.
  void record_batch();
  Snapshot snapshot() const;
  // The durations of successful requests (arrival to answer), for percentiles.
  const LatencyHistogram& latency() const { return latency_; }

 private:
  struct Counter {
    std::atomic<uint64_t> count{0}, ns{0};
    void add(std::chrono::nanoseconds t);
    Duration read() const;
  };
  static constexpr std::size_t kShards = 8;
  struct alignas(64) Shard {
    Counter success, fail, queue, input, infer, output;
    std::atomic<uint64_t> inference_count{0}, execution_count{0}, last_inference_ms{0};
  };
  std::array<Shard, kShards> shards_;
  LatencyHistogram latency_;
};

}  // namespace mg::gateway
