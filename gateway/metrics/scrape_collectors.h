#pragma once
// The families computed when scraped rather than kept in sync by every change: the
// process's own (process_*) and the server's state (models, backends, dependencies,
// workers, shadows). Inside the metrics layer only: prometheus-cpp stays out of its
// public header.
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <vector>

#include "gateway/metrics/metrics.h"

namespace mg::gateway {

// process_* metrics from /proc/self, as the Prometheus client libraries name them.
class ProcessCollector : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

// Families whose members are the server's current state (models, backends), built at
// scrape time rather than kept in sync by every change.
class StateCollector : public prometheus::Collectable {
 public:
  explicit StateCollector(const ServerState& state) : state_(state) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  // The shadow candidates' comparisons: counters and a gauge per (model, version).
  void add_shadow_families(std::vector<prometheus::MetricFamily>& families) const;

  const ServerState& state_;
};

}  // namespace mg::gateway
