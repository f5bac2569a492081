#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <tuple>

#include "common/event_loop.h"
#include "gateway/limits/quota_tracker.h"
#include "gateway/limits/redis_usage.h"

namespace mg::registry {
class Registry;
}

namespace mg::gateway {

// One inference request as a usage row: requests 1, in the UTC hour of `now` (unix s).
inline registry::UsageRow usage_of_request(const std::string& tenant, const std::string& key_id,
                                           const std::string& model, int64_t version, int64_t items,
                                           bool error, int64_t now) {
  return registry::UsageRow{now - now % 3600, tenant, key_id, model,
                            version,          1,      items,  error ? 1 : 0};
}

// Usage metering (docs/contracts.md "Rate limits, quotas, usage"): requests, items (batch rows)
// and errors per (hour, tenant, key, model, version), kept in memory and added to the
// registry together with the quota counters in one transaction per flush. A background
// thread flushes every `interval` (1 s: after kill -9 at most the last second is lost);
// the destructor flushes what is left (SIGTERM). A failed write keeps the deltas for the
// next flush.
// In cluster mode with Redis (`shared`), each request is counted in Redis when admitted
// and corrected (`correct`) before its answer is sent, and the flusher hands Redis's
// batches to the ledger exactly once (RedisUsage); the memory above then only holds what
// arrived while Redis was down.
class UsageMeter {
 public:
  UsageMeter(registry::Registry& registry, QuotaTracker& quotas,
             std::chrono::milliseconds interval = std::chrono::seconds(1),
             std::shared_ptr<RedisUsage> shared = nullptr);
  ~UsageMeter();
  UsageMeter(const UsageMeter&) = delete;
  UsageMeter& operator=(const UsageMeter&) = delete;

  // One inference request; `now` is unix seconds.
  void record(const std::string& tenant, const std::string& key_id, const std::string& model,
              int64_t version, uint64_t items, bool error, int64_t now);
  void record(const registry::UsageRow& request) { add({request}); }
  // For one answered request that admission already counted in Redis as `counted`
  // (cluster mode): the deltas from there to `outcome` (none when the answer was one
  // success of `counted.items` items on that version). `outcome` is nullopt for a request
  // that never reached a version (it is not metered).
  static std::vector<registry::UsageRow> correction(
      const registry::UsageRow& counted, const std::optional<registry::UsageRow>& outcome);
  void correct(const registry::UsageRow& counted,
               const std::optional<registry::UsageRow>& outcome) {
    add(correction(counted, outcome));
  }
  // Adds the deltas in Redis (cluster mode), or in memory (embedded, or while Redis cannot
  // be reached).
  void add(const std::vector<registry::UsageRow>& deltas);
  // The same from a socket thread without blocking it: `done` runs on `loop` once they are
  // counted.
  void add_async(std::vector<registry::UsageRow> deltas, EventLoop& loop,
                 std::function<void()> done);
  // Writes everything recorded so far. Returns false (and keeps it) when the write failed.
  bool flush();

 private:
  using Key = std::tuple<int64_t, std::string, std::string, std::string, int64_t>;
  struct Counts {
    int64_t requests = 0, items = 0, errors = 0;
  };
  struct Shard {
    std::mutex mutex;
    std::map<Key, Counts> counts;
  };

  void count_in_memory(const Key& key, const Counts& delta);
  void count_in_memory(const std::vector<registry::UsageRow>& deltas, const std::string& why);
  bool flush_memory();
  bool flush_shared();

  registry::Registry& registry_;
  QuotaTracker& quotas_;
  std::shared_ptr<RedisUsage> shared_;
  std::array<Shard, 16> shards_;
  std::mutex flush_mutex_;                        // one flush at a time
  std::atomic<int64_t> last_redis_error_log_{0};  // steady seconds: Redis errors logged 1/10 s
  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread flusher_;  // last: started once everything above exists
};

}  // namespace mg::gateway
