#include "gateway/metrics/metrics.h"

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "common/thread_shard.h"
#include "gateway/metrics/hot_series.h"
#include "gateway/metrics/scrape_collectors.h"

namespace mg::gateway {
namespace {

// Sub-millisecond to multi-second latencies.
constexpr std::array<double, 16> kLatencyBounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                   0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                                   1,      2.5,     5,      10};
const prometheus::Histogram::BucketBoundaries kLatencyBuckets(kLatencyBounds.begin(),
                                                              kLatencyBounds.end());

const prometheus::Histogram::BucketBoundaries kBatchBuckets = {1, 2, 4, 8, 16, 32, 64, 128, 256};

// Requests being handled, counted in per-thread slots and summed when scraped: every
// request changes the count twice, and one shared gauge (prometheus-cpp's is a
// compare-and-swap loop on a double) had every socket thread write the same cache line
// twice per request. A request may end on another thread than it began on, so a slot
// alone can go negative; the sum cannot, except for an instant seen mid-scrape.
class InflightCount : public prometheus::Collectable {
 public:
  void add(int delta) {
    slots_[thread_shard<kSlots>()].value.fetch_add(delta, std::memory_order_relaxed);
  }

  std::vector<prometheus::MetricFamily> Collect() const override {
    int64_t total = 0;
    for (const Slot& s : slots_) total += s.value.load(std::memory_order_relaxed);
    prometheus::ClientMetric metric;
    metric.gauge.value = static_cast<double>(std::max<int64_t>(total, 0));
    return {prometheus::MetricFamily{"modelgate_inflight_requests",
                                     "Requests being handled now",
                                     prometheus::MetricType::Gauge,
                                     {metric}}};
  }

 private:
  static constexpr std::size_t kSlots = 16;
  struct alignas(64) Slot {  // one cache line each
    std::atomic<int64_t> value{0};
  };
  std::array<Slot, kSlots> slots_;
};

// The protocols a request arrives by (the protocol label): a fixed list, so request data
// never becomes a label.
constexpr std::array<const char*, 2> kProtocols = {"http", "grpc"};
std::size_t protocol_index(std::string_view protocol) { return protocol == "grpc" ? 1 : 0; }

// The series of one model version, resolved once. prometheus-cpp's Family::Add builds a
// label map and a whole new metric (a histogram: its buckets) on every call, even when
// it only finds the existing one, which cost several allocations per request.
// What each request updates goes to per-thread shares first (hot_series.h), folded into
// these series when scraped.
struct VersionSeries {
  // Requests with outcome "ok" (nearly all of them), by protocol.
  std::array<prometheus::Counter*, kProtocols.size()> ok{};
  prometheus::Counter* items = nullptr;
  prometheus::Histogram* duration = nullptr;
  prometheus::Histogram* queue = nullptr;
  prometheus::Histogram* compute = nullptr;
  prometheus::Histogram* batch_size = nullptr;
  std::array<HotCounter, kProtocols.size()> ok_shares;
  HotCounter items_shares;
  HotHistogram<kLatencyBounds.size()> duration_shares{kLatencyBounds};
  HotHistogram<kLatencyBounds.size()> queue_shares{kLatencyBounds};

  void fold() {
    for (std::size_t p = 0; p < kProtocols.size(); ++p) ok_shares[p].fold(*ok[p]);
    items_shares.fold(*items);
    duration_shares.fold(*duration);
    queue_shares.fold(*queue);
  }
};

struct TenantSeries {
  prometheus::Counter* requests = nullptr;
  HotCounter requests_shares;
};

// Each Metrics' number, so that a thread's remembered series (Impl::version_series) is
// never taken for one of another Metrics made at the same address.
std::atomic<uint64_t> metrics_made{0};

// (model, version) ordered so a lookup needs no std::string built.
struct VersionKeyLess {
  using is_transparent = void;
  using View = std::pair<std::string_view, int64_t>;
  static View view(const std::pair<std::string, int64_t>& key) { return {key.first, key.second}; }
  static View view(const View& key) { return key; }
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return view(a) < view(b);
  }
};

}  // namespace

// Every error code the server answers with (docs/contracts.md "Errors" and the server's own).
constexpr const char* kRefusalCodes[] = {"bad_request",
                                         "missing_credentials",
                                         "invalid_key",
                                         "signature_required",
                                         "bad_signature",
                                         "stale_timestamp",
                                         "replayed_nonce",
                                         "ambiguous_credentials",
                                         "forbidden",
                                         "not_found",
                                         "model_not_found",
                                         "version_not_found",
                                         "conflict",
                                         "payload_too_large",
                                         "unsupported_media_type",
                                         "rate_limited",
                                         "quota_exceeded",
                                         "model_not_ready",
                                         "overloaded",
                                         "internal",
                                         "deadline_exceeded",
                                         "too_many_connections",
                                         "backend_failed",
                                         "other"};

// Why a worker process died: the signals a plugin bug or a limit brings, and the rest.
constexpr const char* kWorkerDeathCauses[] = {"sigsegv",  "sigabrt",  "sigbus",  "sigill",
                                              "sigfpe",   "sigkill",  "sigxcpu", "exit",
                                              "deadline", "protocol", "other"};

// A registry whose collection first runs `fold` (Metrics::Impl::fold).
class FoldedRegistry : public prometheus::Collectable {
 public:
  FoldedRegistry(std::shared_ptr<prometheus::Registry> registry, std::function<void()> fold)
      : registry_(std::move(registry)), fold_(std::move(fold)) {}
  std::vector<prometheus::MetricFamily> Collect() const override {
    fold_();
    return registry_->Collect();
  }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::function<void()> fold_;
};

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
  prometheus::Family<prometheus::Histogram>& queue =
      prometheus::BuildHistogram()
          .Name("modelgate_queue_duration_seconds")
          .Help("Time a request waited for its batch to start")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& compute =
      prometheus::BuildHistogram()
          .Name("modelgate_compute_duration_seconds")
          .Help("Backend execute time per batch")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& batch_size = prometheus::BuildHistogram()
                                                              .Name("modelgate_batch_size")
                                                              .Help("Rows per batch run")
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
  prometheus::Family<prometheus::Counter>& refusals =
      prometheus::BuildCounter()
          .Name("modelgate_refused_requests_total")
          .Help("Requests answered with an error, by error code (unknown routes: not_found)")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& worker_deaths =
      prometheus::BuildCounter()
          .Name("modelgate_worker_deaths_total")
          .Help("Backend worker processes that died or were killed, by cause")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& worker_restarts =
      prometheus::BuildCounter()
          .Name("modelgate_worker_restarts_total")
          .Help("Backend worker processes restarted after a death, with the model loaded again")
          .Register(*registry);
  prometheus::Counter& access_log_drops =
      prometheus::BuildCounter()
          .Name("modelgate_access_log_dropped_lines_total")
          .Help("Access log lines dropped because the log's output stalled past its buffer")
          .Register(*registry)
          .Add({});
  prometheus::Counter& shed =
      prometheus::BuildCounter()
          .Name("modelgate_shed_requests_total")
          .Help("Requests answered 503 overloaded because too many were waiting")
          .Register(*registry)
          .Add({});
  std::shared_ptr<InflightCount> inflight = std::make_shared<InflightCount>();
  // The registry as collected: the per-thread shares folded in first.
  std::shared_ptr<FoldedRegistry> folded;
  std::shared_ptr<ProcessCollector> process = std::make_shared<ProcessCollector>();
  bool tenant_label = true;
  std::unique_ptr<prometheus::Exposer> exposer;

  std::string_view tenant(const std::string& name) const {
    return tenant_label ? std::string_view(name) : "*";
  }

  // Resolved series, found under a shared lock; created at zero under the exclusive one
  // (a version's by fold() before its first request, so that Prometheus sees that
  // request's increase). Labels come from registered models and tenants only, so these
  // stay as small as the families themselves.
  std::shared_mutex series_mutex;
  std::map<std::pair<std::string, int64_t>, VersionSeries, VersionKeyLess> versions;
  std::map<std::string, TenantSeries, std::less<>> tenants;
  const uint64_t id = ++metrics_made;
  std::mutex fold_mutex;

  // The server's versions, whose series are made before every collection (see fold).
  const ServerState* server_state = nullptr;

  // Moves the per-thread shares into the exported series; before every collection. First
  // makes the series of every version the server has and that has none yet: at zero from the
  // first scrape after the version is registered, not from its first request. A series born
  // with its first requests' counts has no increase() for them, so rate() and
  // histogram_quantile() miss every request a new version answered before its second scrape.
  void fold() {
    if (server_state != nullptr) {
      for (const auto& v : server_state->versions()) find_version_series(v.model, v.version);
    }
    std::lock_guard fold_lock(fold_mutex);
    std::shared_lock lock(series_mutex);
    for (auto& [key, series] : versions) series.fold();
    for (auto& [name, series] : tenants) series.requests_shares.fold(*series.requests);
  }

  // A thread asks for the same version's series request after request: it remembers the
  // last one, and so skips the lock (a shared lock still writes the lock's word, which the
  // socket threads passed between cores). Series are never removed, so the pointer holds.
  VersionSeries& version_series(const std::string& model, int64_t version) {
    struct Last {
      uint64_t metrics = 0;
      std::string model;
      int64_t version = 0;
      VersionSeries* series = nullptr;
    };
    thread_local Last last;
    if (last.metrics == id && last.version == version && last.model == model) return *last.series;
    VersionSeries& series = find_version_series(model, version);
    last = Last{id, model, version, &series};
    return series;
  }

  VersionSeries& find_version_series(const std::string& model, int64_t version) {
    const VersionKeyLess::View key{model, version};
    {
      std::shared_lock lock(series_mutex);
      if (auto found = versions.find(key); found != versions.end()) return found->second;
    }
    std::unique_lock lock(series_mutex);
    auto [at, inserted] = versions.try_emplace({model, version});
    if (inserted) {
      const std::string v = std::to_string(version);
      const prometheus::Labels labels{{"model", model}, {"version", v}};
      VersionSeries& series = at->second;
      for (std::size_t p = 0; p < kProtocols.size(); ++p) {
        series.ok[p] = &requests.Add(
            {{"model", model}, {"version", v}, {"outcome", "ok"}, {"protocol", kProtocols[p]}});
      }
      series.items = &items.Add(labels);
      series.duration = &duration.Add(labels, kLatencyBuckets);
      series.queue = &queue.Add(labels, kLatencyBuckets);
      series.compute = &compute.Add(labels, kLatencyBuckets);
      series.batch_size = &batch_size.Add(labels, kBatchBuckets);
    }
    return at->second;
  }

  // As version_series: the last one remembered per thread.
  TenantSeries& tenant_series(const std::string& name) {
    const std::string_view label = tenant(name);
    struct Last {
      uint64_t metrics = 0;
      std::string label;
      TenantSeries* series = nullptr;
    };
    thread_local Last last;
    if (last.metrics == id && last.label == label) return *last.series;
    TenantSeries& series = find_tenant_series(label);
    last = Last{id, std::string(label), &series};
    return series;
  }

  TenantSeries& find_tenant_series(std::string_view label) {
    {
      std::shared_lock lock(series_mutex);
      if (auto found = tenants.find(label); found != tenants.end()) return found->second;
    }
    std::unique_lock lock(series_mutex);
    auto [at, inserted] = tenants.try_emplace(std::string(label));
    if (inserted) {
      at->second.requests = &tenant_requests.Add({{"tenant", at->first}});
      // Its 429 series start at zero too: a series born at 1 has no increase().
      for (const char* reason : {"rate_limited", "quota_exceeded"})
        rate_limited.Add({{"tenant", at->first}, {"reason", reason}});
    }
    return at->second;
  }
};

Metrics::Metrics(const std::string& server_version, const ServerState& state, bool tenant_label)
    : impl_(std::make_unique<Impl>()) {
  impl_->tenant_label = tenant_label;
  impl_->server_state = &state;
  impl_->folded =
      std::make_shared<FoldedRegistry>(impl_->registry, [impl = impl_.get()] { impl->fold(); });
  prometheus::BuildGauge()
      .Name("modelgate_build_info")
      .Help("1, labelled with the server's version")
      .Register(*impl_->registry)
      .Add({{"version", server_version}})
      .Set(1);
  impl_->state = std::make_shared<StateCollector>(state);
  // Series of fixed label sets exist from the start at 0, so rate() and alerts have data
  // before the first event (a series born at 1 has no increase()).
  for (const char* reason :
       {"missing_credentials", "invalid_key", "signature_required", "bad_signature",
        "stale_timestamp", "replayed_nonce", "ambiguous_credentials", "forbidden"}) {
    impl_->auth_failures.Add({{"reason", reason}});
  }
  for (const char* code : kRefusalCodes) impl_->refusals.Add({{"code", code}});
}

Metrics::~Metrics() = default;

void Metrics::observe_batch(const std::string& model, int64_t version, uint64_t rows,
                            double seconds) {
  const VersionSeries& series = impl_->version_series(model, version);
  // Once per batch, not per request: straight into the exported series.
  series.compute->Observe(seconds);
  series.batch_size->Observe(static_cast<double>(rows));
}

void Metrics::observe_inference(const std::string& model, int64_t version,
                                const std::string& outcome, uint64_t items, double seconds,
                                double queue_seconds, std::string_view protocol) {
  VersionSeries& series = impl_->version_series(model, version);
  const std::size_t p = protocol_index(protocol);
  if (outcome == "ok") {
    series.ok_shares[p].add(1);
  } else {
    impl_->requests
        .Add({{"model", model},
              {"version", std::to_string(version)},
              {"outcome", outcome},
              {"protocol", kProtocols[p]}})
        .Increment();
  }
  if (items > 0) series.items_shares.add(items);
  series.duration_shares.observe(seconds);
  if (queue_seconds >= 0) series.queue_shares.observe(queue_seconds);
}

void Metrics::count_unknown_model(std::string_view protocol) {
  impl_->requests
      .Add({{"model", ""},
            {"version", ""},
            {"outcome", "model_not_found"},
            {"protocol", kProtocols[protocol_index(protocol)]}})
      .Increment();
}

void Metrics::count_auth_failure(const std::string& reason) {
  impl_->auth_failures.Add({{"reason", reason}}).Increment();
}

void Metrics::count_rate_limited(const std::string& tenant, const std::string& reason) {
  impl_->rate_limited.Add({{"tenant", std::string(impl_->tenant(tenant))}, {"reason", reason}})
      .Increment();
}

void Metrics::count_tenant_request(const std::string& tenant) {
  impl_->tenant_series(tenant).requests_shares.add(1);
}

void Metrics::add_inflight(int delta) { impl_->inflight->add(delta); }

void Metrics::count_shed() { impl_->shed.Increment(); }

void Metrics::count_worker_death(const std::string& model, int64_t version,
                                 const std::string& cause) {
  std::string_view label = "other";
  for (const char* known : kWorkerDeathCauses) {
    if (cause == known) label = known;
  }
  impl_->worker_deaths
      .Add({{"model", model}, {"version", std::to_string(version)}, {"cause", std::string(label)}})
      .Increment();
}

void Metrics::count_worker_restart(const std::string& model, int64_t version) {
  impl_->worker_restarts.Add({{"model", model}, {"version", std::to_string(version)}}).Increment();
}

void Metrics::count_access_log_drop() { impl_->access_log_drops.Increment(); }

void Metrics::count_refusal(const std::string& code) {
  // Codes come from the server's own fixed list; anything else is folded so that no
  // unexpected string can grow the label set.
  for (const char* known : kRefusalCodes) {
    if (code == known) return impl_->refusals.Add({{"code", code}}).Increment();
  }
  impl_->refusals.Add({{"code", "other"}}).Increment();
}

uint16_t Metrics::listen(const std::string& host, uint16_t port) {
  try {
    impl_->exposer = std::make_unique<prometheus::Exposer>(host + ":" + std::to_string(port), 1);
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot listen for metrics on " + host + ":" + std::to_string(port) +
                             ": " + e.what());
  }
  impl_->exposer->RegisterCollectable(impl_->folded);
  impl_->exposer->RegisterCollectable(impl_->state);
  impl_->exposer->RegisterCollectable(impl_->process);
  impl_->exposer->RegisterCollectable(impl_->inflight);
  const auto ports = impl_->exposer->GetListeningPorts();
  return ports.empty() ? port : static_cast<uint16_t>(ports.front());
}

std::string Metrics::scrape() const {
  auto families = impl_->folded->Collect();
  for (auto& family : impl_->state->Collect()) families.push_back(std::move(family));
  for (auto& family : impl_->process->Collect()) families.push_back(std::move(family));
  for (auto& family : impl_->inflight->Collect()) families.push_back(std::move(family));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace mg::gateway
