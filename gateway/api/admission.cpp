#include "gateway/api/admission.h"

#include <atomic>

#include "common/log.h"
#include "gateway/api/errors.h"
#include "gateway/limits/limits.h"
#include "gateway/metrics/metrics.h"
#include "registry/registry.h"

namespace mg::gateway {
namespace {

struct Quota {
  int64_t limit = 0;  // 0: none
  registry::QuotaPeriod period = registry::QuotaPeriod::kMonth;
};

Quota quota_of(Services& s, const Principal& caller, bool inference) {
  if (!inference) return {};
  const registry::Catalog& catalog = s.registry.snapshot();
  auto tenant = catalog.tenants.find(caller.tenant);
  if (tenant == catalog.tenants.end()) return {};
  return {tenant->second.quota_limit, tenant->second.quota_period};
}

void check_rate(Services& s, const Principal& caller, const std::optional<Admission>& rate,
                InferenceInfo& info) {
  if (!rate) return;
  info.limit = rate->state;
  if (!rate->allowed) {
    if (s.metrics) s.metrics->count_rate_limited(caller.tenant, "rate_limited");
    throw ApiError(429, "rate_limited",
                   "key " + caller.key_id + " is over its rate limit of " +
                       std::to_string(caller.rate) + " requests/s",
                   rate->retry_after);
  }
}

void check_quota(Services& s, const Principal& caller, const Quota& q,
                 const std::optional<Admission>& quota, InferenceInfo& info) {
  if (!quota) return;
  if (!info.limit || quota->state.remaining < info.limit->remaining) info.limit = quota->state;
  if (!quota->allowed) {
    if (s.metrics) s.metrics->count_rate_limited(caller.tenant, "quota_exceeded");
    throw ApiError(429, "quota_exceeded",
                   "tenant '" + caller.tenant + "' has used its quota of " +
                       std::to_string(q.limit) + " requests per " +
                       std::string(registry::period_name(q.period)),
                   quota->retry_after);
  }
}

void take_rate_and_quota(Services& s, const Principal& caller, bool inference,
                         InferenceInfo& info) {
  Limits& limits = *s.limits;
  const int64_t now_ms = limits.clock_ms();
  check_rate(s, caller,
             limits.rates.take(caller.key_id, caller.rate, caller.burst, now_ms * 1'000'000), info);
  const Quota q = quota_of(s, caller, inference);
  check_quota(s, caller, q, limits.quotas.take(caller.tenant, q.limit, q.period, now_ms / 1000),
              info);
}

}  // namespace

SharedAdmitRequest shared_request(Services& s, const Principal& caller, bool inference,
                                  const SignedParts* nonce, const UsageTarget& target) {
  const Quota q = quota_of(s, caller, inference);
  SharedAdmitRequest request;
  request.key_id = caller.key_id;
  request.rate = caller.rate;
  request.burst = caller.burst;
  request.tenant = caller.tenant;
  request.quota_limit = q.limit;
  request.period = q.period;
  request.now = s.limits->clock_ms() / 1000;
  if (nonce != nullptr) {
    request.nonce = nonce->nonce;
    request.nonce_expires = Authenticator::nonce_expiry(*nonce);
  }
  if (inference && !target.model.empty()) {
    // A request on a version that does not resolve is not metered (it fails as 404).
    const auto version = s.registry.resolve(
        target.model, target.version.empty() ? std::string("default") : target.version);
    if (version) {
      request.usage = usage_of_request(caller.tenant, caller.key_id, target.model, *version, 1,
                                       false, request.now);
    }
  }
  return request;
}

namespace {

// Cluster mode: the same decisions, shared by the replicas, in one Redis round trip (or
// the one taken before: `decided`). Returns false when Redis cannot answer and the failure
// mode is open.
bool take_shared(Services& s, const Principal& caller, bool inference, InferenceInfo& info,
                 const SignedParts* nonce, const UsageTarget& target,
                 const SharedDecision* decided) {
  Limits& limits = *s.limits;
  SharedAdmitRequest request =
      decided ? decided->request : shared_request(s, caller, inference, nonce, target);
  const Quota q{request.quota_limit, request.period};  // as shared_request found it
  SharedAdmission admission;
  try {
    if (decided == nullptr) {
      admission = limits.shared->admit(request);
    } else if (decided->failure) {
      std::rethrow_exception(decided->failure);
    } else {
      admission = *decided->admission;
    }
  } catch (const RedisUnavailable& e) {
    static std::atomic<int64_t> last_logged_ms{0};
    const int64_t now_ms = limits.clock_ms();
    if (now_ms - last_logged_ms.exchange(now_ms) >= 10'000) {
      log(LogLevel::kError, std::string("shared limits unavailable: ") + e.what());
    }
    if (limits.open_on_redis_failure) return false;
    throw ApiError(503, "limits_unavailable",
                   "the cluster's rate limits cannot be checked (Redis is unreachable); try "
                   "again shortly",
                   1);
  }
  if (admission.refusal == SharedAdmission::Refusal::kReplayed) {
    throw ApiError(401, "replayed_nonce", "this nonce was already used; sign again with a new one");
  }
  check_rate(s, caller, admission.rate, info);
  check_quota(s, caller, q, admission.quota, info);
  info.counted_usage = std::move(request.usage);  // admitted: the script counted it
  return true;
}

}  // namespace

Admitted admit(Services& s, const Principal& caller, bool inference, InferenceInfo& info,
               const SignedParts* nonce, const UsageTarget& target, const SharedDecision* decided) {
  Admitted admitted;
  if (s.limits == nullptr) return admitted;
  if (s.limits->shared && take_shared(s, caller, inference, info, nonce, target, decided)) {
    admitted.nonce_spent = true;
  } else {
    take_rate_and_quota(s, caller, inference, info);
  }
  if (!inference) return admitted;
  admitted.slot = s.limits->concurrency.enter(caller.tenant);
  std::optional<TenantConcurrency::Slot>& slot = admitted.slot;
  if (!slot) {
    if (s.metrics) s.metrics->count_rate_limited(caller.tenant, "rate_limited");
    throw ApiError(429, "rate_limited",
                   "tenant '" + caller.tenant + "' has " +
                       std::to_string(s.limits->concurrency.cap()) +
                       " inference requests in flight, its limit while other tenants wait",
                   1);
  }
  return admitted;
}

}  // namespace mg::gateway
