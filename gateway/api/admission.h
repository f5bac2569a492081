#pragma once

#include <optional>

#include "gateway/api/inference_info.h"
#include "gateway/api/router.h"
#include "gateway/auth/authenticator.h"
#include "gateway/limits/tenant_concurrency.h"

namespace mg::gateway {

// Whether an authenticated data-plane request may go on: the key's rate limit (every
// request), the tenant's quota and its share of the inference slots (inference requests).
// Throws 429 rate_limited | quota_exceeded; records the tighter limit in `info` for the
// RateLimit headers. The slot, when one is taken, is held until the answer is made.
std::optional<TenantConcurrency::Slot> admit(Services& s, const Principal& caller, bool inference,
                                             InferenceInfo& info);

}  // namespace mg::gateway
