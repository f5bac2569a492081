#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

#include "limits/quota_tracker.h"
#include "limits/rate_limiter.h"
#include "limits/tenant_concurrency.h"
#include "limits/usage_meter.h"

namespace mg::gateway {

// Everything that counts requests: per-key rate limits, per-tenant quotas, usage metering,
// on one injectable clock (unix milliseconds; the system clock by default).
struct Limits {
  Limits(registry::Registry& registry, std::function<int64_t()> clock = {},
         std::chrono::milliseconds flush_interval = std::chrono::seconds(1))
      : clock_ms(clock ? std::move(clock) : system_ms),
        quotas(registry, clock_ms() / 1000),
        usage(registry, quotas, flush_interval) {}

  static int64_t system_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  std::function<int64_t()> clock_ms;
  RateLimiter rates;
  TenantConcurrency concurrency;  // inference requests in flight per tenant
  QuotaTracker quotas;
  UsageMeter usage;  // last: its flusher thread uses the quotas
};

}  // namespace mg::gateway
