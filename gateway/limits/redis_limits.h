#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/event_loop.h"
#include "gateway/limits/rate_limiter.h"
#include "gateway/limits/redis_client.h"
#include "registry/records.h"

namespace mg::gateway {

// One request's whole admit step, for limits shared by every replica.
struct SharedAdmitRequest {
  std::string key_id;
  double rate = 0;  // requests/s; <= 0: no rate limit
  int64_t burst = 0;
  std::string tenant;
  int64_t quota_limit = 0;  // <= 0 (or not an inference request): no quota
  registry::QuotaPeriod period = registry::QuotaPeriod::kMonth;
  std::string nonce;          // a signed request's nonce; empty: none
  int64_t nonce_expires = 0;  // unix seconds: until when the nonce must stay spent
  int64_t now = 0;            // unix seconds (this replica's clock: quota periods only)
  // An inference request is counted as usage when admitted: this row (requests 1).
  std::optional<registry::UsageRow> usage;
};

struct SharedAdmission {
  enum class Refusal { kNone, kRate, kQuota, kReplayed };
  Refusal refusal = Refusal::kNone;
  std::optional<Admission> rate;   // when the key has a rate limit
  std::optional<Admission> quota;  // when the tenant has a quota
};

// Rate limits, tenant quotas and signed-request nonces in Redis, shared by every replica
// (docs/operations.md "Cluster mode"), decided by one Lua script in one round trip
// (EVALSHA) per request, so they hold across replicas as they do on one:
// - a replayed nonce is refused before anything is counted (SET NX PX, per key);
// - the rate limit is GCRA on Redis's clock (TIME), not the replicas': one stored
//   "theoretical arrival time" per key, `burst` requests at once, then `rate` per second;
// - the quota is a counter per tenant and UTC calendar period (INCR, expiring after the
//   period), checked before it is incremented, so N concurrent clients get exactly the
//   quota's worth of successes;
// - the nonce is spent only by a request that passed both;
// - an admitted inference request is counted as usage (RedisUsage's live hash).
// Throws RedisUnavailable when Redis cannot answer; the caller applies the configured
// failure mode.
class RedisLimits {
 public:
  // `redis` serves threads that may block; socket threads get a connection of their own
  // to the same server. `usage_key`: RedisUsage::live_key() of the replica's usage counters.
  RedisLimits(std::shared_ptr<RedisPipeline> redis, std::string usage_key);
  SharedAdmission admit(const SharedAdmitRequest& request);
  // The same without blocking, on the calling socket thread's loop: `done` runs later on
  // that thread with the admission, or with the RedisUnavailable failure.
  using AdmitCallback =
      std::function<void(std::optional<SharedAdmission> admission, std::exception_ptr failure)>;
  void admit_async(const SharedAdmitRequest& request, EventLoop& loop, AdmitCallback done);
  // Whether the last admit got an answer from Redis (the modelgate_dependency_up gauge).
  bool up() const { return up_.load(std::memory_order_relaxed); }

 private:
  struct Call {
    std::vector<std::string> keys, args;
  };
  Call call_for(const SharedAdmitRequest& request) const;
  SharedAdmission decide(const SharedAdmitRequest& request, const redisReply& reply);

  std::shared_ptr<RedisPipeline> redis_;
  std::string usage_key_;
  RedisScript script_;
  std::atomic<bool> up_{true};
};

}  // namespace mg::gateway
