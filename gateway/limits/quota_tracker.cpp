#include "gateway/limits/quota_tracker.h"

#include <algorithm>

#include "gateway/limits/periods.h"
#include "registry/registry.h"

namespace mg::gateway {

QuotaTracker::QuotaTracker(const registry::Registry& registry, int64_t now) {
  for (const auto& row : registry.quota_usage(now - 32 * 86400)) {
    persisted_[{row.tenant, row.period_start}] = row.used;
  }
}

QuotaTracker::Counter& QuotaTracker::counter_for(const std::string& tenant) {
  Shard& shard = shards_[std::hash<std::string>{}(tenant) % shards_.size()];
  {
    std::shared_lock read(shard.mutex);
    auto it = shard.counters.find(tenant);
    if (it != shard.counters.end()) return *it->second;
  }
  std::unique_lock write(shard.mutex);
  auto& counter = shard.counters[tenant];
  if (!counter) counter = std::make_unique<Counter>();
  return *counter;
}

std::optional<Admission> QuotaTracker::take(const std::string& tenant, int64_t limit,
                                            registry::QuotaPeriod period, int64_t now) {
  if (limit <= 0) return std::nullopt;
  const int64_t start = period_start(period, now);
  Counter& c = counter_for(tenant);
  std::lock_guard lock(c.mutex);
  if (c.period_start != start) {
    // A new period (or the first request since startup): hand the old period's unwritten
    // count to the next drain and start from what was persisted for this one.
    if (c.unflushed > 0) {
      std::lock_guard carry(carry_mutex_);
      carry_.push_back({tenant, c.unflushed_period, c.unflushed});
    }
    c.unflushed = 0;
    c.period_start = start;
    std::lock_guard persisted(persisted_mutex_);
    auto it = persisted_.find({tenant, start});
    c.used = it == persisted_.end() ? 0 : it->second;
  }
  Admission admission;
  const int64_t end = period_end(period, now);
  admission.allowed = c.used < limit;
  if (admission.allowed) {
    ++c.used;
    ++c.unflushed;
    c.unflushed_period = start;
  } else {
    admission.retry_after = std::max<int64_t>(1, end - now);
  }
  admission.state = LimitState{limit, std::max<int64_t>(0, limit - c.used), end - now};
  return admission;
}

std::vector<registry::QuotaRow> QuotaTracker::drain() {
  std::vector<registry::QuotaRow> rows;
  {
    std::lock_guard carry(carry_mutex_);
    rows.swap(carry_);
  }
  for (Shard& shard : shards_) {
    std::shared_lock read(shard.mutex);
    for (auto& [tenant, counter] : shard.counters) {
      std::lock_guard lock(counter->mutex);
      if (counter->unflushed == 0) continue;
      rows.push_back({tenant, counter->unflushed_period, counter->unflushed});
      counter->unflushed = 0;
    }
  }
  return rows;
}

void QuotaTracker::restore(const std::vector<registry::QuotaRow>& rows) {
  std::lock_guard carry(carry_mutex_);
  carry_.insert(carry_.end(), rows.begin(), rows.end());
}

}  // namespace mg::gateway
