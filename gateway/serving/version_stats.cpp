#include "gateway/serving/version_stats.h"

namespace mg::gateway {

void VersionStats::Counter::add(std::chrono::nanoseconds t) {
  if (t.count() < 0) return;
  count.fetch_add(1, std::memory_order_relaxed);
  ns.fetch_add(static_cast<uint64_t>(t.count()), std::memory_order_relaxed);
}

VersionStats::Duration VersionStats::Counter::read() const {
  return Duration{count.load(std::memory_order_relaxed), ns.load(std::memory_order_relaxed)};
}

void VersionStats::record(const Request& r) {
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  last_inference_ms_.store(static_cast<uint64_t>(now.count()), std::memory_order_relaxed);
  if (!r.ok) {
    fail_.add(r.total);
    return;
  }
  success_.add(r.total);
  latency_.record(r.total);
  queue_.add(r.queue);
  input_.add(r.input);
  infer_.add(r.infer);
  output_.add(r.output);
  inference_count_.fetch_add(r.items, std::memory_order_relaxed);
}

VersionStats::Snapshot VersionStats::snapshot() const {
  Snapshot s;
  s.success = success_.read();
  s.fail = fail_.read();
  s.queue = queue_.read();
  s.compute_input = input_.read();
  s.compute_infer = infer_.read();
  s.compute_output = output_.read();
  s.inference_count = inference_count_.load(std::memory_order_relaxed);
  s.execution_count = execution_count_.load(std::memory_order_relaxed);
  s.last_inference_ms = last_inference_ms_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace mg::gateway
