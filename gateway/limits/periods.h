#pragma once

#include <cstdint>

#include "registry/records.h"

namespace mg::gateway {

// UTC calendar periods for tenant quotas: a quota of N/day resets at 00:00 UTC, N/month
// on the first of the month. Times are unix seconds.
int64_t period_start(registry::QuotaPeriod period, int64_t now);
int64_t period_end(registry::QuotaPeriod period, int64_t now);

}  // namespace mg::gateway
