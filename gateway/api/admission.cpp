#include "gateway/api/admission.h"

#include "gateway/api/errors.h"
#include "gateway/limits/limits.h"
#include "gateway/metrics/metrics.h"
#include "registry/registry.h"

namespace mg::gateway {
namespace {

void take_rate_and_quota(Services& s, const Principal& caller, bool inference,
                         InferenceInfo& info) {
  Limits& limits = *s.limits;
  const int64_t now_ms = limits.clock_ms();
  if (auto rate = limits.rates.take(caller.key_id, caller.rate, caller.burst, now_ms * 1'000'000)) {
    info.limit = rate->state;
    if (!rate->allowed) {
      if (s.metrics) s.metrics->count_rate_limited(caller.tenant, "rate_limited");
      throw ApiError(429, "rate_limited",
                     "key " + caller.key_id + " is over its rate limit of " +
                         std::to_string(caller.rate) + " requests/s",
                     rate->retry_after);
    }
  }
  if (!inference) return;
  const registry::Catalog& catalog = s.registry.snapshot();
  auto tenant = catalog.tenants.find(caller.tenant);
  if (tenant == catalog.tenants.end()) return;
  const int64_t limit = tenant->second.quota_limit;
  const registry::QuotaPeriod period = tenant->second.quota_period;
  if (auto quota = limits.quotas.take(caller.tenant, limit, period, now_ms / 1000)) {
    if (!info.limit || quota->state.remaining < info.limit->remaining) info.limit = quota->state;
    if (!quota->allowed) {
      if (s.metrics) s.metrics->count_rate_limited(caller.tenant, "quota_exceeded");
      throw ApiError(429, "quota_exceeded",
                     "tenant '" + caller.tenant + "' has used its quota of " +
                         std::to_string(limit) + " requests per " +
                         std::string(registry::period_name(period)),
                     quota->retry_after);
    }
  }
}

}  // namespace

std::optional<TenantConcurrency::Slot> admit(Services& s, const Principal& caller, bool inference,
                                             InferenceInfo& info) {
  if (s.limits == nullptr) return std::nullopt;
  take_rate_and_quota(s, caller, inference, info);
  if (!inference) return std::nullopt;
  std::optional<TenantConcurrency::Slot> slot = s.limits->concurrency.enter(caller.tenant);
  if (!slot) {
    if (s.metrics) s.metrics->count_rate_limited(caller.tenant, "rate_limited");
    throw ApiError(429, "rate_limited",
                   "tenant '" + caller.tenant + "' has " +
                       std::to_string(s.limits->concurrency.cap()) +
                       " inference requests in flight, its limit while other tenants wait",
                   1);
  }
  return slot;
}

}  // namespace mg::gateway
