#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gateway/limits/rate_limiter.h"
#include "registry/records.h"

namespace mg::registry {
class Registry;
}

namespace mg::gateway {

// Per-tenant request quotas over UTC calendar periods (docs/contracts.md "Rate limits, quotas"),
// shared by the tenant's keys. Counts start from what the registry persisted, so a restart
// does not reset them; the usage meter persists what drain() hands it about once a second.
// Sharded like RateLimiter: no global lock on the hot path.
class QuotaTracker {
 public:
  // Reads the counters of periods that may still be current (the last 32 days).
  QuotaTracker(const registry::Registry& registry, int64_t now);

  // Counts one request for the tenant at `now` (unix seconds) unless its quota for the
  // period is spent. limit <= 0 means no quota: nullopt, and nothing is counted.
  std::optional<Admission> take(const std::string& tenant, int64_t limit,
                                registry::QuotaPeriod period, int64_t now);

  // Counts taken since the last drain, as deltas to add to the registry.
  std::vector<registry::QuotaRow> drain();
  // Gives back deltas whose write failed, to be retried with the next drain.
  void restore(const std::vector<registry::QuotaRow>& rows);

 private:
  struct Counter {
    std::mutex mutex;
    int64_t period_start = -1;
    int64_t used = 0;
    int64_t unflushed = 0;
    int64_t unflushed_period = 0;  // the period `unflushed` belongs to
  };
  struct Shard {
    std::shared_mutex mutex;
    std::unordered_map<std::string, std::unique_ptr<Counter>> counters;
  };
  Counter& counter_for(const std::string& tenant);

  std::array<Shard, 32> shards_;
  std::mutex persisted_mutex_;
  std::map<std::pair<std::string, int64_t>, int64_t> persisted_;  // at startup
  std::mutex carry_mutex_;
  std::vector<registry::QuotaRow> carry_;  // deltas of earlier periods not yet written
};

}  // namespace mg::gateway
