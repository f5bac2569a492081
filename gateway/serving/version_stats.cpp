#include "gateway/serving/version_stats.h"

#include <algorithm>

#include "common/thread_shard.h"

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
  Shard& shard = shards_[thread_shard<kShards>()];
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  shard.last_inference_ms.store(static_cast<uint64_t>(now.count()), std::memory_order_relaxed);
  if (!r.ok) {
    shard.fail.add(r.total);
    return;
  }
  shard.success.add(r.total);
  latency_.record(r.total);
  shard.queue.add(r.queue);
  shard.input.add(r.input);
  shard.infer.add(r.infer);
  shard.output.add(r.output);
  shard.inference_count.fetch_add(r.items, std::memory_order_relaxed);
}

void VersionStats::record_batch() {
  shards_[thread_shard<kShards>()].execution_count.fetch_add(1, std::memory_order_relaxed);
}

VersionStats::Snapshot VersionStats::snapshot() const {
  Snapshot s;
  const auto add = [](Duration& sum, const Counter& counter) {
    const Duration d = counter.read();
    sum.count += d.count;
    sum.ns += d.ns;
  };
  for (const Shard& shard : shards_) {
    add(s.success, shard.success);
    add(s.fail, shard.fail);
    add(s.queue, shard.queue);
    add(s.compute_input, shard.input);
    add(s.compute_infer, shard.infer);
    add(s.compute_output, shard.output);
    s.inference_count += shard.inference_count.load(std::memory_order_relaxed);
    s.execution_count += shard.execution_count.load(std::memory_order_relaxed);
    s.last_inference_ms =
        std::max(s.last_inference_ms, shard.last_inference_ms.load(std::memory_order_relaxed));
  }
  return s;
}

}  // namespace mg::gateway
