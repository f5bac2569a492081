#include "gateway/limits/periods.h"

#include <ctime>

namespace mg::gateway {
namespace {

int64_t month_start(int64_t now, int months_ahead) {
  const std::time_t t = static_cast<std::time_t>(now);
  std::tm utc{};
  gmtime_r(&t, &utc);
  utc.tm_mday = 1;
  utc.tm_hour = utc.tm_min = utc.tm_sec = 0;
  utc.tm_mon += months_ahead;  // timegm normalises December + 1
  return static_cast<int64_t>(timegm(&utc));
}

}  // namespace

int64_t period_start(registry::QuotaPeriod period, int64_t now) {
  using P = registry::QuotaPeriod;
  switch (period) {
    case P::kMinute:
      return now - now % 60;
    case P::kHour:
      return now - now % 3600;
    case P::kDay:
      return now - now % 86400;
    case P::kMonth:
      return month_start(now, 0);
  }
  return now;
}

int64_t period_end(registry::QuotaPeriod period, int64_t now) {
  using P = registry::QuotaPeriod;
  switch (period) {
    case P::kMinute:
      return period_start(period, now) + 60;
    case P::kHour:
      return period_start(period, now) + 3600;
    case P::kDay:
      return period_start(period, now) + 86400;
    case P::kMonth:
      return month_start(now, 1);
  }
  return now;
}

}  // namespace mg::gateway
