#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "gateway/api/router.h"

namespace mg::gateway {

// Rolls back a canary that fails (docs/evaluation.md "Automatic rollback"): for a model
// whose config has "canary": {"max_error_rate": R, "min_requests": N (default 100)}, a
// weighted alias whose other versions answered at least N requests since the guard first
// saw them, more than a share R of them with an error, goes back to its own version alone
// (audited alias.set by "canary-guard", logged with the figures). Each replica judges the
// requests it served.
class CanaryGuard {
 public:
  explicit CanaryGuard(Services& services) : s_(services) {}
  ~CanaryGuard() { stop(); }
  CanaryGuard(const CanaryGuard&) = delete;
  CanaryGuard& operator=(const CanaryGuard&) = delete;

  // One look at every weighted alias; returns the aliases rolled back ("model:alias").
  std::vector<std::string> check();
  // Checks every `period` on a thread of its own until stop() (or destruction).
  void start(std::chrono::milliseconds period);
  void stop();

 private:
  struct Seen {
    uint64_t ok = 0, failed = 0;  // the version's counts when the guard first saw it
  };
  Services& s_;
  std::map<std::tuple<std::string, std::string, int64_t>, Seen> seen_;  // model, alias, version
  std::mutex mutex_;  // check() at a time; guards stopping_
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace mg::gateway
