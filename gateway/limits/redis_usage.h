#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/event_loop.h"
#include "gateway/limits/redis_client.h"
#include "registry/records.h"

namespace mg::gateway {

// A row's field name in the live hash, after the counter letter: "<hour> <tenant> <key id>
// <model> <version>" (names are [a-z0-9._-]: a space cannot occur inside one).
std::string usage_field(const registry::UsageRow& row);
// The live hash's field the admit script increments for an admitted request: counter 'n',
// one request of one item (one HINCRBY where 'r' and 'i' would take two).
std::string admitted_usage_field(const registry::UsageRow& row);

// Usage counters shared by the replicas in Redis, and their hand-over to the registry's
// ledger exactly once (docs/operations.md "Cluster mode", usage).
//
// A request is counted in one live hash when it is admitted (by the admit script, in the
// same round trip: RedisLimits), as one request of one item on the version its path
// resolves to; when its answer says otherwise (an error, more items, another version) the
// difference is recorded (`record`, one script call) before the answer is sent. So a
// replica killed after answering has already counted the answer. About
// once a second a replica that takes the flush lock cuts the live hash into a pending
// batch with a random id (`claim`: rename, atomic in Redis), adds the batch to the ledger
// in one registry transaction that also remembers the id (Registry::add_usage_batch), and
// only then deletes the batch (`settle`). A replica that dies anywhere in between leaves
// the batch pending under the same id: the next flusher adds it if the ledger has not got
// it, or only deletes it if it has — never lost, never counted twice.
class RedisUsage {
 public:
  // `prefix` names the keys ("<prefix>:{usage}:live", …): replicas of one cluster share
  // it; tests give each their own.
  explicit RedisUsage(std::shared_ptr<RedisPipeline> redis,
                      std::chrono::milliseconds lock_time = std::chrono::seconds(10),
                      const std::string& prefix = "mg");

  // Adds deltas (negative ones correct what admission counted), in one script call.
  // Throws RedisUnavailable.
  void record(const std::vector<registry::UsageRow>& deltas);
  // The same on a socket thread's loop without blocking it: `done` gets "" once they are
  // counted, or why they could not be.
  void record_async(const std::vector<registry::UsageRow>& deltas, EventLoop& loop,
                    std::function<void(const std::string& error)> done);
  // The live hash, which the admit script also adds to (RedisLimits).
  const std::string& live_key() const { return live_; }

  struct Batch {
    std::string id;
    std::vector<registry::UsageRow> rows;  // sorted by (hour, tenant, key, model, version)
  };
  // The pending batch (cut from the live counters if none is pending), or nullopt when
  // there is nothing to add or another replica holds the flush lock. Throws
  // RedisUnavailable.
  std::optional<Batch> claim();
  // Deletes the batch once the ledger has it, and gives the lock back.
  void settle(const Batch& batch);

 private:
  std::vector<std::string> record_args(const std::vector<registry::UsageRow>& deltas) const;

  std::shared_ptr<RedisPipeline> redis_;
  std::chrono::milliseconds lock_time_;
  std::string live_, pending_, pending_id_, lock_;  // the keys
  std::string token_;                               // this replica's name on the lock: random
  RedisScript record_, claim_, settle_;
};

}  // namespace mg::gateway
