#include "metrics/metrics.h"

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <stdexcept>

#include "plugin_host/backend_manager.h"
#include "registry/registry.h"

namespace mg::gateway {
namespace {

// Sub-millisecond to multi-second latencies.
const prometheus::Histogram::BucketBoundaries kLatencyBuckets = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};

// Families whose members are the registry's and the plugin host's current state, built
// at scrape time rather than kept in sync by every change.
class StateCollector : public prometheus::Collectable {
 public:
  StateCollector(const registry::Registry& registry, const BackendManager& backends)
      : registry_(registry), backends_(backends) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    prometheus::MetricFamily states{"modelgate_model_state",
                                    "1 for each model version's current state",
                                    prometheus::MetricType::Gauge,
                                    {}};
    for (const auto& model : registry_.list_models()) {
      for (const auto& v : registry_.list_versions(model.name)) {
        if (v.state == registry::VersionState::kRetired) continue;
        prometheus::ClientMetric metric;
        metric.label = {{"model", model.name},
                        {"state", std::string(registry::state_name(v.state))},
                        {"version", std::to_string(v.version)}};
        metric.gauge.value = 1;
        states.metric.push_back(std::move(metric));
      }
    }
    prometheus::MetricFamily backends{"modelgate_backend_info",
                                      "1 for each backend plugin found, with its state",
                                      prometheus::MetricType::Gauge,
                                      {}};
    for (const auto& b : backends_.statuses()) {
      prometheus::ClientMetric metric;
      metric.label = {{"abi", std::to_string(b.abi_major) + "." + std::to_string(b.abi_minor)},
                      {"backend", b.name},
                      {"state", std::string(state_name(b.state))},
                      {"version", b.version}};
      metric.gauge.value = 1;
      backends.metric.push_back(std::move(metric));
    }
    return {std::move(states), std::move(backends)};
  }

 private:
  const registry::Registry& registry_;
  const BackendManager& backends_;
};

}  // namespace

struct Metrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::shared_ptr<StateCollector> state;
  prometheus::Family<prometheus::Counter>& requests =
      prometheus::BuildCounter()
          .Name("modelgate_inference_requests_total")
          .Help("Inference requests by model, version and outcome (ok or the error code)")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& items =
      prometheus::BuildCounter()
          .Name("modelgate_inference_items_total")
          .Help("Batch rows inferred, by model and version")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& duration =
      prometheus::BuildHistogram()
          .Name("modelgate_request_duration_seconds")
          .Help("Inference request time inside the server, end to end")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& auth_failures =
      prometheus::BuildCounter()
          .Name("modelgate_auth_failures_total")
          .Help("Requests refused by authentication or authorisation, by reason")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& rate_limited =
      prometheus::BuildCounter()
          .Name("modelgate_rate_limited_total")
          .Help("Requests refused with 429, by tenant and reason (rate_limited, quota_exceeded)")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& tenant_requests =
      prometheus::BuildCounter()
          .Name("modelgate_tenant_requests_total")
          .Help("Authenticated data-plane requests by tenant")
          .Register(*registry);
  prometheus::Gauge& inflight = prometheus::BuildGauge()
                                    .Name("modelgate_inflight_requests")
                                    .Help("Requests being handled now")
                                    .Register(*registry)
                                    .Add({});
  std::unique_ptr<prometheus::Exposer> exposer;
};

Metrics::Metrics(const std::string& server_version, const registry::Registry& registry,
                 const BackendManager& backends)
    : impl_(std::make_unique<Impl>()) {
  prometheus::BuildGauge()
      .Name("modelgate_build_info")
      .Help("1, labelled with the server's version")
      .Register(*impl_->registry)
      .Add({{"version", server_version}})
      .Set(1);
  impl_->state = std::make_shared<StateCollector>(registry, backends);
}

Metrics::~Metrics() = default;

void Metrics::observe_inference(const std::string& model, int64_t version,
                                const std::string& outcome, uint64_t items, double seconds) {
  const std::string v = std::to_string(version);
  impl_->requests.Add({{"model", model}, {"version", v}, {"outcome", outcome}}).Increment();
  if (items > 0) {
    impl_->items.Add({{"model", model}, {"version", v}}).Increment(static_cast<double>(items));
  }
  impl_->duration.Add({{"model", model}, {"version", v}}, kLatencyBuckets).Observe(seconds);
}

void Metrics::count_auth_failure(const std::string& reason) {
  impl_->auth_failures.Add({{"reason", reason}}).Increment();
}

void Metrics::count_rate_limited(const std::string& tenant, const std::string& reason) {
  impl_->rate_limited.Add({{"tenant", tenant}, {"reason", reason}}).Increment();
}

void Metrics::count_tenant_request(const std::string& tenant) {
  impl_->tenant_requests.Add({{"tenant", tenant}}).Increment();
}

void Metrics::add_inflight(int delta) { impl_->inflight.Increment(delta); }

uint16_t Metrics::listen(const std::string& host, uint16_t port) {
  try {
    impl_->exposer = std::make_unique<prometheus::Exposer>(host + ":" + std::to_string(port), 1);
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot listen for metrics on " + host + ":" + std::to_string(port) +
                             ": " + e.what());
  }
  impl_->exposer->RegisterCollectable(impl_->registry);
  impl_->exposer->RegisterCollectable(impl_->state);
  const auto ports = impl_->exposer->GetListeningPorts();
  return ports.empty() ? port : static_cast<uint16_t>(ports.front());
}

std::string Metrics::scrape() const {
  auto families = impl_->registry->Collect();
  for (auto& family : impl_->state->Collect()) families.push_back(std::move(family));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace mg::gateway
