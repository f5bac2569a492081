#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

namespace mg {

// Wall-clock time in unix milliseconds. The registry is built with one (the system clock
// unless a test injects a fixed or stepping one) and every component that reads the time
// for a decision — key expiry, signature windows, rate limits, quotas, audit budgets —
// takes the registry's, so a test moves all of them at once.
using WallClock = std::function<int64_t()>;

inline int64_t system_time_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace mg
