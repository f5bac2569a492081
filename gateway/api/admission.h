#pragma once

#include <exception>
#include <optional>

#include "gateway/api/inference_info.h"
#include "gateway/api/router.h"
#include "gateway/auth/authenticator.h"
#include "gateway/limits/redis_limits.h"
#include "gateway/limits/tenant_concurrency.h"

namespace mg::gateway {

struct Admitted {
  std::optional<TenantConcurrency::Slot> slot;  // held until the answer is made
  bool nonce_spent = false;                     // the shared limits spent it already
};

// Whether an authenticated data-plane request may go on: the key's rate limit (every
// request), the tenant's quota and its share of the inference slots (inference requests).
// Throws 429 rate_limited | quota_exceeded; records the tighter limit in `info` for the
// RateLimit headers. With shared limits (cluster mode, Redis) a signed request's nonce is
// checked and spent in the same round trip (401 replayed_nonce), and Redis unreachable is
// 503 limits_unavailable unless the failure mode is open. The same round trip counts an
// inference request's usage on the version `target` resolves to (info.counted_usage).
struct UsageTarget {
  std::string model;
  std::string version;  // a number or an alias; empty: the default
};
// The shared limits' decision when it was taken before (asynchronously, on a socket
// thread: route_async): the request sent and Redis's answer or failure.
struct SharedDecision {
  SharedAdmitRequest request;
  std::optional<SharedAdmission> admission;
  std::exception_ptr failure;  // RedisUnavailable
};
Admitted admit(Services& s, const Principal& caller, bool inference, InferenceInfo& info,
               const SignedParts* nonce, const UsageTarget& target,
               const SharedDecision* decided = nullptr);
// What the shared admit step asks Redis for this request.
SharedAdmitRequest shared_request(Services& s, const Principal& caller, bool inference,
                                  const SignedParts* nonce, const UsageTarget& target);

}  // namespace mg::gateway
