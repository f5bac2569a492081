#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mg::gateway {

// The server's state as the scrape-time gauges show it (modelgate_model_state,
// modelgate_backend_info). The server implements it over the registry and the plugin host,
// so that metrics depends on neither.
class ServerState {
 public:
  struct VersionState {
    std::string model;
    int64_t version = 0;
    std::string state;  // "ready", "loading", …: registry::state_name
  };
  struct BackendState {
    std::string backend, version, abi, state;  // abi: "major.minor"
  };
  // A service the server depends on (cluster mode: "postgres", "redis") and whether its
  // last use succeeded.
  struct Dependency {
    std::string name;
    bool up = true;
  };
  // A model version served by a worker process (isolation "process").
  struct WorkerState {
    std::string model;
    int64_t version = 0;
    uint64_t resident_bytes = 0;  // 0 while no worker runs
  };
  // A shadow candidate's comparison with the served answers (docs/evaluation.md "Shadow").
  struct ShadowState {
    std::string model;
    int64_t version = 0;
    uint64_t copies = 0, errors = 0, dropped = 0, rows = 0, agreed_rows = 0;
    double max_abs_diff = 0;
  };
  virtual ~ServerState() = default;
  // Every model version that is not retired.
  virtual std::vector<VersionState> versions() const = 0;
  // Every backend plugin file found, in discovery order.
  virtual std::vector<BackendState> backends() const = 0;
  // Embedded mode: none.
  virtual std::vector<Dependency> dependencies() const { return {}; }
  // Versions run out of process; none when every backend runs inline.
  virtual std::vector<WorkerState> workers() const { return {}; }
  // Loaded versions that shadow an alias; none when no model has a shadow.
  virtual std::vector<ShadowState> shadows() const { return {}; }
};

// The server's Prometheus metrics (docs/contracts.md "Metrics", prefix modelgate_). Labels come
// only from registered models and versions and from fixed code lists, never from request
// data, so cardinality stays bounded. prometheus-cpp stays inside gateway/metrics/ sources.
class Metrics {
 public:
  // model_state and backend_info are computed at scrape time from these.
  // tenant_label false drops the tenant label (one series per metric instead of one per
  // tenant) for deployments with many tenants.
  // `state` must outlive the Metrics.
  Metrics(const std::string& server_version, const ServerState& state, bool tenant_label = true);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // One data-plane inference request, end to end. outcome is "ok" or an error code;
  // queue_seconds < 0 when it never reached a batch queue; protocol "http" or "grpc" (the
  // protocol label of inference_requests_total; anything else counts as "http").
  void observe_inference(const std::string& model, int64_t version, const std::string& outcome,
                         uint64_t items, double seconds, double queue_seconds,
                         std::string_view protocol = "http");
  // A request naming a model that does not exist: counted in inference_requests_total
  // with empty model and version labels, so request data never becomes a label.
  void count_unknown_model(std::string_view protocol = "http");
  // One batch run by a version: its rows and its execute time.
  void observe_batch(const std::string& model, int64_t version, uint64_t rows, double seconds);
  // A request refused by authentication (reason: the 401 code) or authorisation.
  void count_auth_failure(const std::string& reason);
  // A request the server refused with 503 overloaded before routing it (backlog full).
  void count_shed();
  // Any request answered with an error, by its error code (docs/contracts.md "Errors"): the
  // router's answers and the HTTPS layer's own (413 payload_too_large, 503 overloaded).
  // Every code of the contract is exported at 0 from the start.
  void count_refusal(const std::string& code);
  // An access log line dropped because the log's output stalled (AccessLog's bound).
  void count_access_log_drop();
  // A request refused with 429 (reason: rate_limited or quota_exceeded).
  void count_rate_limited(const std::string& tenant, const std::string& reason);
  // An authenticated data-plane request of a tenant.
  void count_tenant_request(const std::string& tenant);
  // A version's worker process died (cause: a signal name such as "sigsegv", "exit",
  // "deadline"; anything outside the fixed list counts as "other"), or came back.
  void count_worker_death(const std::string& model, int64_t version, const std::string& cause);
  void count_worker_restart(const std::string& model, int64_t version);
  // Requests inside the router now.
  void add_inflight(int delta);

  // Serves /metrics over plain HTTP on HOST:PORT (port 0: any free port); returns the
  // bound port. Throws std::runtime_error when the address cannot be bound.
  uint16_t listen(const std::string& host, uint16_t port);
  // The exposition text, as a scrape would see it (tests).
  std::string scrape() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace mg::gateway
