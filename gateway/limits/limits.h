#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "common/clock.h"
#include "gateway/limits/quota_tracker.h"
#include "gateway/limits/rate_limiter.h"
#include "gateway/limits/redis_limits.h"
#include "gateway/limits/tenant_concurrency.h"
#include "gateway/limits/usage_meter.h"
#include "registry/registry.h"

namespace mg::gateway {

// Everything that counts requests: per-key rate limits, per-tenant quotas, usage metering,
// on one clock (the registry's unless another is given).
struct Limits {
  Limits(registry::Registry& registry, WallClock clock = {},
         std::chrono::milliseconds flush_interval = std::chrono::seconds(1),
         std::shared_ptr<RedisUsage> shared_usage = nullptr)
      : clock_ms(clock ? std::move(clock) : registry.clock()),
        quotas(registry, clock_ms() / 1000),
        usage(registry, quotas, flush_interval, std::move(shared_usage)) {}

  WallClock clock_ms;
  // Cluster mode: rate limits, quotas and nonces shared by the replicas through Redis
  // (null: the per-process counters below decide). When Redis cannot answer, "closed"
  // refuses with 503 limits_unavailable and "open" falls back to this replica's counters.
  std::shared_ptr<RedisLimits> shared;  // shared with the metrics' probe
  bool open_on_redis_failure = false;
  RateLimiter rates;
  TenantConcurrency concurrency;  // inference requests in flight per tenant
  QuotaTracker quotas;
  UsageMeter usage;  // last: its flusher thread uses the quotas
};

}  // namespace mg::gateway
