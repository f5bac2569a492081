#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "gateway/api/route_table.h"
#include "gateway/http/http_types.h"

namespace mg::registry {
class Registry;
}

namespace mg::gateway {

class AccessLog;
class Authenticator;
struct Limits;
class BackendManager;
class Metrics;
class ModelRepository;

// How many refused admin requests were audited in the current minute (admin_api.cpp).
struct RefusalAuditBudget {
  std::mutex mutex;
  int64_t minute = 0;
  int audited = 0, skipped = 0;
};

// What request handling needs from the rest of the server.
struct Services {
  registry::Registry& registry;
  ModelRepository& models;
  BackendManager& backends;
  Authenticator& auth;
  std::string server_version;
  Metrics* metrics = nullptr;       // none in tests that do not look at metrics
  Limits* limits = nullptr;         // rate limits, quotas, usage; none: nothing is limited
  AccessLog* access_log = nullptr;  // none: no access log
  // Largest body once decompressed (Content-Encoding gzip/deflate): the server's body limit.
  std::size_t max_decoded_body = 64 << 20;
  // Largest JSON part of an infer request (limits.json_bytes); binary tensors may add more.
  std::size_t max_json_bytes = std::size_t{8} << 20;
  // Longest an inference request waits for its batch (limits.inference_timeout_ms); past
  // it a request still queued is taken out and answered 503 deadline_exceeded.
  std::chrono::milliseconds inference_timeout{60'000};
  std::shared_ptr<RefusalAuditBudget> refusal_audit = std::make_shared<RefusalAuditBudget>();
};

// The router: a pure function from a request to a response (no sockets), so every
// endpoint is testable without a network. Never throws: every refusal becomes a response
// in the error contract.
HttpResponse route(const HttpRequest& request, Services& services);

// route() for a request answered on a socket thread: `respond` gets the answer, at once
// or — when the shared limits must ask Redis (cluster mode), or a model in a worker process
// runs it — later on the same thread, which meanwhile serves its other connections
// instead of waiting. Never throws.
void route_async(HttpRequest request, Services& services,
                 std::function<void(HttpResponse)> respond);

// Every data-plane route (method and path pattern), for the documentation checks.
std::vector<RouteSpec> data_route_specs();

// Whether a request may be handled on the socket thread that read it: reads of memory
// (GETs), inference on a loaded version whose batches run at once and briefly
// (DynamicBatcher::runs_fast, under 250 µs), and inference on a model in a worker process
// (route_async answers it later, when its batch has run, without holding the thread).
// Bodies over 64 KiB never. Never throws.
bool runs_inline(const HttpRequest& request, Services& services);

// Whether route() answers a request at once: runs_inline's requests without those that
// route_async would answer later (cluster mode's Redis limits, a model in a worker
// process). What a listener without an event loop (gRPC) answers on its own thread.
bool answers_at_once(const HttpRequest& request, Services& services);

// Sees a request's head before its body is read: model uploads stream (or are refused
// unread); everything else is left to route(). Never throws.
StreamDecision route_stream(const HttpRequest& head, Services& services);

}  // namespace mg::gateway
