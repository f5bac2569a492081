#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "gateway/api/router.h"
#include "gateway/serving/latency_histogram.h"

namespace mg::gateway {

// A model config's "canary": {"max_error_rate": R, "max_p99_ms": P, "min_requests": N}
// (either threshold or both; N defaults to 100).
struct CanaryThresholds {
  std::optional<double> max_error_rate;  // share of requests answered with an error, 0..1
  std::optional<double> max_p99_ms;      // p99 of successful requests, arrival to answer
  uint64_t min_requests = 100;
};
// Throws std::invalid_argument naming what is wrong.
CanaryThresholds canary_thresholds(const boost::json::object& canary);
boost::json::object canary_json(const CanaryThresholds& thresholds);

// Rolls back a canary that fails (docs/evaluation.md "Automatic rollback"): for a model
// whose config has a "canary", a weighted alias one of whose other versions answered at
// least N requests since the guard first saw it — more than a share R of them with an
// error, or (over at least N successful ones) with a p99 above P — goes back to its own
// version alone (audited alias.set by "canary-guard", logged with the figures). Each
// replica judges the requests it served.
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
    // The version's counts and latencies when the guard first saw it.
    uint64_t ok = 0, failed = 0;
    LatencyHistogram::Counts latency{};
  };
  Services& s_;
  std::map<std::tuple<std::string, std::string, int64_t>, Seen> seen_;  // model, alias, version
  std::set<std::string> warned_;  // model + config whose malformed canary was logged
  std::mutex mutex_;              // check() at a time; guards stopping_
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace mg::gateway
