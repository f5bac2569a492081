#include "gateway/api/router.h"

#include <chrono>
#include <optional>
#include <vector>

#include "common/event_loop.h"
#include "common/log.h"
#include "gateway/api/access_line.h"
#include "gateway/api/admin_api.h"
#include "gateway/api/admin_audit.h"
#include "gateway/api/admission.h"
#include "gateway/api/content_encoding.h"
#include "gateway/api/data_plane.h"
#include "gateway/api/errors.h"
#include "gateway/api/inference_info.h"
#include "gateway/api/kserve_codec.h"
#include "gateway/api/route_table.h"
#include "gateway/api/triton_extensions.h"
#include "gateway/auth/authenticator.h"
#include "gateway/limits/limits.h"
#include "gateway/metrics/metrics.h"
#include "gateway/plugin_host/backend_error.h"
#include "gateway/serving/model_repository.h"
#include "registry/names.h"
#include "registry/registry.h"

namespace mg::gateway {
namespace {

// A data-plane endpoint: its handler, whether it needs a key (health does not), and
// whether it is an inference (quota, concurrency share, usage).
struct DataRoute {
  HttpResponse (*handler)(DataCall&);
  bool needs_key = true;
  bool inference = false;
  bool admin = false;  // the admin scope instead of infer (Triton's model repository)
};

// Every KServe v2 endpoint this server serves. The admin API's table is in admin_api.cpp.
const RouteTable<DataRoute>& data_routes() {
  static const RouteTable<DataRoute> table{
      // Inference first: find() tries the routes in order, twice per inference (whether it
      // runs inline, then its dispatch), and last it cost ~1.7k instructions each time. No
      // other route has these paths.
      {{"POST", "/v2/models/{model}/infer"}, {infer, true, true}},
      {{"POST", "/v2/models/{model}/versions/{version}/infer"}, {infer, true, true}},
      {{"GET", "/v2/health/live"}, {server_live, false}},
      {{"GET", "/v2/health/ready"}, {server_ready, false}},
      {{"GET", "/v2"}, {server_metadata}},
      // Literal paths before "{model}": their last segments are reserved model names.
      {{"GET", "/v2/models/stats"}, {model_stats}},
      {{"POST", "/v2/repository/index"}, {repository_index, true, false, true}},
      {{"POST", "/v2/repository/models/{model}/load"}, {repository_load, true, false, true}},
      {{"POST", "/v2/repository/models/{model}/unload"}, {repository_unload, true, false, true}},
      {{"GET", "/v2/models/{model}"}, {model_metadata}},
      {{"GET", "/v2/models/{model}/versions/{version}"}, {model_metadata}},
      {{"GET", "/v2/models/{model}/ready"}, {model_ready}},
      {{"GET", "/v2/models/{model}/versions/{version}/ready"}, {model_ready}},
      {{"GET", "/v2/models/{model}/config"}, {model_config}},
      {{"GET", "/v2/models/{model}/versions/{version}/config"}, {model_config}},
      {{"GET", "/v2/models/{model}/stats"}, {model_stats}},
      {{"GET", "/v2/models/{model}/versions/{version}/stats"}, {model_stats}},
  };
  return table;
}

bool is_admin(const PathParts& parts) {
  return parts.size() >= 2 && parts[0] == "admin" && parts[1] == "v1";
}

[[noreturn]] void no_such_endpoint(const HttpRequest& request, const char* why = "") {
  throw ApiError(404, "not_found",
                 "no such endpoint: " + request.method + " " +
                     std::string(request.target.substr(0, 200)) + why);
}

[[noreturn]] void method_not_allowed(const HttpRequest& request, const std::string& allowed) {
  throw ApiError(405, "bad_request",
                 "method " + request.method + " is not allowed here; use " + allowed);
}

// The request with its body decompressed when it came with Content-Encoding (after
// authentication: a signature covers the body as sent); `storage` holds the copy.
const HttpRequest& decoded(const HttpRequest& request, const Services& s,
                           std::optional<HttpRequest>& storage) {
  const std::string_view encoding = request.header("Content-Encoding");
  if (encoding.empty()) return request;
  std::optional<std::string> body = decode_content(encoding, request.body, s.max_decoded_body);
  if (!body) return request;
  storage.emplace(HttpRequest{request.method, request.target, request.headers, std::move(*body)});
  return *storage;
}

HttpResponse admin(const HttpRequest& request, const PathParts& parts, Services& s,
                   InferenceInfo& info) {
  Principal caller;
  try {
    caller = authenticated([&] { return s.auth.authenticate(request); });
    info.tenant = caller.tenant;  // for the access log: who changed what
    info.key_id = caller.key_id;
    authenticated([&] { Authenticator::require_scope(caller, registry::kScopeAdmin); });
  } catch (const ApiError& e) {
    if (e.status() == 401 || e.status() == 403) audit_refused_admin(s, request, e);
    throw;
  }
  std::optional<HttpRequest> storage;
  return admin_route(decoded(request, s, storage), parts, caller, s);
}

// Every request goes: the route table → (health: answered) → the key → its scope → the
// limits (admission) → the nonce spent → the model's access → the handler.
// `later`: offered to the handler (see LaterAnswer); null when the caller waits.
HttpResponse dispatch(const HttpRequest& request, Services& s, InferenceInfo& info,
                      const SharedDecision* decided, LaterAnswer* later) {
  const auto parts = split_path(request.target);
  if (is_admin(parts)) return admin(request, parts, s, info);
  PathParams params;
  const auto found = data_routes().find(request.method, parts, params);
  if (found.handler != nullptr && !found.handler->needs_key) {
    DataCall call{request, params, s, info};
    return found.handler->handler(call);
  }
  if (found.path_handler != nullptr && !found.path_handler->needs_key) {
    method_not_allowed(request, found.allowed);
  }
  if (parts.empty() || parts[0] != "v2") no_such_endpoint(request);
#ifdef MG_BENCH_NO_AUTH
  // modelgate-bench-noauth only (gateway/api/CMakeLists.txt): the gateway measured without
  // authentication, limits and metering.
  if (found.handler != nullptr && found.handler->inference) {
    std::optional<HttpRequest> storage;
    DataCall call{decoded(request, s, storage), params, s, info};
    return found.handler->handler(call);
  }
#endif
  Authenticator::Deferred deferred =
      authenticated([&] { return s.auth.authenticate_deferring_nonce(request); });
  const Principal& caller = deferred.principal;
  info.tenant = caller.tenant;
  info.key_id = caller.key_id;
  if (s.metrics) s.metrics->count_tenant_request(caller.tenant);
  const bool admin_route = found.handler != nullptr && found.handler->admin;
  try {
    authenticated([&] {
      Authenticator::require_scope(caller,
                                   admin_route ? registry::kScopeAdmin : registry::kScopeInfer);
    });
  } catch (const ApiError& e) {
    if (admin_route) audit_refused_admin(s, request, e);  // as under /admin/v1
    throw;
  }
  const bool inference = found.handler != nullptr && found.handler->inference;
  const SignedParts* nonce = deferred.nonce_to_spend ? &*deferred.nonce_to_spend : nullptr;
  const UsageTarget target{std::string(params["model"]), std::string(params["version"])};
  Admitted admitted =
      admit(s, caller, inference, info, nonce, target, decided);  // slot held until the answer
  // Only a request within its limits spends its nonce: one refused above uses up neither
  // a nonce nor room in the replay cache (a low-rate key cannot fill it).
  if (deferred.nonce_to_spend && !admitted.nonce_spent) {
    authenticated([&] { s.auth.spend_nonce(*deferred.nonce_to_spend); });
  }
  if (registry::is_reserved_model_name(params["model"]) ||
      (found.handler == nullptr && !found.path_known && parts.size() >= 3 && parts[1] == "models" &&
       registry::is_reserved_model_name(parts[2]))) {
    // Triton's extensions this server does not serve (/v2/models/trace, …): never the
    // metadata of a model of that name (no model may have one).
    no_such_endpoint(request, " (this server does not serve that KServe/Triton extension)");
  }
  if (found.handler == nullptr) {
    if (found.path_known) method_not_allowed(request, found.allowed);
    no_such_endpoint(request);
  }
  if (const std::string_view model = params["model"]; !model.empty()) {
    authenticated([&] { Authenticator::require_model(caller, std::string(model)); });
  }
  std::optional<HttpRequest> local_storage;
  std::optional<HttpRequest>& storage = later != nullptr ? later->decoded : local_storage;
  DataCall call{found.handler->inference ? decoded(request, s, storage) : request,
                params,
                s,
                info,
                found.handler->inference ? later : nullptr,
                &caller};
  // A request the handler answers later gives its slot back when this returns: the slots
  // share out handler threads, and it waits holding none (its model's queue bound,
  // max_queue, limits it instead).
  return found.handler->handler(call);
}

HttpResponse refusal_of(const ApiError& e) {
  HttpResponse response = error_response(e.status(), e.code(), e.what());
  if (e.retry_after() > 0) {
    response.headers.emplace_back("Retry-After", std::to_string(e.retry_after()));
  } else if (e.status() == 429 || e.code() == "overloaded") {
    response.headers.emplace_back("Retry-After", "1");
  }
  return response;
}

// Bodies larger than this never run on a socket thread, however fast their model.
constexpr std::size_t kInlineBodyBytes = 64 << 10;

// Whether a request may carry a raw input (a BYTES tensor) — checked on its JSON part
// before it is decoded. "BYTES" can only be spelt literally or with \u escapes, so a part
// with neither holds no BYTES tensor; a compressed body cannot be read here at all.
bool may_carry_bytes(const HttpRequest& request) {
  const std::string_view encoding = request.header("Content-Encoding");
  if (!encoding.empty() && encoding != "identity") return true;
  std::size_t json_size = 0;
  try {
    json_size = json_part_length(request);
  } catch (const ApiError&) {
    return true;  // a length that is not one: the decoder answers it, off the socket thread
  }
  const std::string_view json = std::string_view(request.body).substr(0, json_size);
  return json.find("BYTES") != std::string_view::npos || json.find("\\u") != std::string_view::npos;
}

}  // namespace

std::vector<RouteSpec> data_route_specs() { return data_routes().specs(); }

namespace {

// runs_inline and answers_at_once: `later_ok` when the caller has an event loop on which
// route_async may answer later (Redis limits, a model in a worker process).
bool quick(const HttpRequest& request, Services& services, bool later_ok) {
  // Shared limits (cluster mode): a request answered on its socket thread waits for Redis
  // without holding the thread (route_async), so the same requests run inline.
  if (!later_ok && services.limits != nullptr && services.limits->shared) return false;
  if (request.method == "GET") return true;
  // A large body's decode would hold a socket thread (and every connection on it).
  if (request.method != "POST" || request.body.size() > kInlineBodyBytes) return false;
  PathParams params;
  const auto found = data_routes().find(request.method, split_path(request.target), params);
  if (found.handler == nullptr || !found.handler->inference) return false;
  const ModelRef path = model_ref(params);
  const auto version =
      services.registry.resolve(path.model, path.version.empty() ? "default" : path.version);
  if (!version) return true;  // an error answer: cheap
  const auto loaded = services.models.find(path.model, *version);
  if (!loaded) return true;  // an error answer: cheap
  // Decoding images takes milliseconds: never on a socket thread. A request that sends
  // the model's tensors, or texts (a small body tokenises in microseconds), may run there.
  if (loaded->preprocessing().has_images() && may_carry_bytes(request)) return false;
  // A model in a worker process is answered later (LaterAnswer): its request waits in the
  // batcher holding no thread, and the socket thread only decodes and encodes.
  if (loaded->isolation() == Isolation::kProcess) return later_ok;
  return loaded->batcher().runs_fast(std::chrono::microseconds(250));
}

}  // namespace

bool runs_inline(const HttpRequest& request, Services& services) {
  return quick(request, services, true);
}

bool answers_at_once(const HttpRequest& request, Services& services) {
  return quick(request, services, false);
}

namespace {

// Makes an answer with `make`, every refusal and failure it throws turned into a response
// in the error contract; `outcome` becomes "ok" or the error code of the answer, `detail`
// what the server log gets for a server-side failure (never the client).
template <typename Make>
HttpResponse guarded(Make&& make, std::string& outcome, std::string& detail) {
  try {
    HttpResponse response = make();
    outcome = "ok";
    return response;
  } catch (const ApiError& e) {
    outcome = e.code();
    detail = e.detail();
    return refusal_of(e);
  } catch (const BackendError& e) {
    // A malformed batch the checks above missed is still the client's; anything else is
    // the server's, and its details go to the log only.
    if (e.code() == MG_ERROR_INVALID_ARGUMENT) {
      outcome = "bad_request";
      return error_response(400, "bad_request", e.what());
    }
    outcome = "internal";
    detail = e.what();
    return error_response(500, "internal", "the model failed to run this request");
  } catch (const std::exception& e) {
    outcome = "internal";
    detail = e.what();
    return error_response(500, "internal", "internal error");
  }
}

}  // namespace

namespace {

// One answered inference request in its version's statistics (Triton's extension).
void record_stats(VersionStats& stats, const InferenceInfo& info, bool ok,
                  std::chrono::steady_clock::duration total) {
  using std::chrono::nanoseconds;
  const auto ns = [](double seconds) { return nanoseconds(static_cast<int64_t>(seconds * 1e9)); };
  VersionStats::Request r;
  r.ok = ok;
  r.items = info.items;
  r.total = std::chrono::duration_cast<nanoseconds>(total);
  r.queue = ns(info.queue_seconds);
  r.input = ns(info.input_seconds);
  r.infer = ns(info.compute_seconds);
  r.output = ns(info.output_seconds);
  stats.record(r);
}

// What every answer gets once it is made, whether routed or refused from the head: the
// request id, the RateLimit headers, the 5xx log line, the access log line, usage and
// metrics. The request was counted in flight when it started.
HttpResponse finish(const HttpRequest& request, HttpResponse response, Services& services,
                    const InferenceInfo& info, const std::string& request_id,
                    const std::string& outcome, const std::string& detail,
                    std::chrono::steady_clock::time_point start,
                    std::vector<registry::UsageRow>* deferred_usage = nullptr) {
  Metrics* metrics = services.metrics;
  // One end for the access log, the statistics and the metrics (a clock read is ~25 ns on
  // a VM, and every request made three).
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  if ((response.status >= 500 && response.status != 503) || outcome == "backend_failed") {
    // The tenant got a generic message; the operator gets what failed, by request id (a
    // dead backend worker too: every request of its batch is logged).
    const std::string_view target = request.target;
    log(LogLevel::kError,
        "request " + request_id + " " + request.method + " " +
            std::string(target.substr(0, std::min<std::size_t>(target.find('?'), 200))) +
            " answered " + std::to_string(response.status) + " " + outcome + ": " +
            (detail.empty() ? std::string("(no detail)") : detail));
  }
  if (info.limit) {
    response.headers.emplace_back("RateLimit-Limit", std::to_string(info.limit->limit));
    response.headers.emplace_back("RateLimit-Remaining", std::to_string(info.limit->remaining));
    response.headers.emplace_back("RateLimit-Reset", std::to_string(info.limit->reset));
  }
  response.headers.emplace_back("X-Request-Id", request_id);
  if (services.access_log != nullptr) {
    write_access_log(*services.access_log, request, response, info, request_id, outcome,
                     elapsed.count());
  }
  if (services.limits && (!info.tenant.empty() || info.counted_usage)) {
    // Before the answer is sent: a replica killed after answering has counted it.
    const int64_t now = services.limits->clock_ms() / 1000;
    std::optional<registry::UsageRow> outcome;
    if (info.version > 0) {
      outcome = usage_of_request(info.tenant, info.key_id, info.model, info.version,
                                 static_cast<int64_t>(info.items), response.status >= 400, now);
    }
    std::vector<registry::UsageRow> deltas =
        info.counted_usage ? UsageMeter::correction(*info.counted_usage, outcome)
        : outcome          ? std::vector<registry::UsageRow>{*outcome}
                           : std::vector<registry::UsageRow>{};
    if (deferred_usage != nullptr) {
      *deferred_usage = std::move(deltas);  // the caller adds them without blocking
    } else {
      services.limits->usage.add(deltas);
    }
  }
  if (info.stats) {
    record_stats(*info.stats, info, response.status < 400,
                 std::chrono::duration_cast<std::chrono::steady_clock::duration>(elapsed));
  }
  if (metrics == nullptr) return response;
  metrics->add_inflight(-1);
  if (response.status == 401 || response.status == 403) metrics->count_auth_failure(outcome);
  if (response.status >= 400) metrics->count_refusal(outcome);
  if (info.version > 0) {
    metrics->observe_inference(info.model, info.version, outcome, info.items, elapsed.count(),
                               info.queue_seconds, request.protocol);
  } else if (outcome == "model_not_found") {
    // Counted, but its name never becomes a label.
    metrics->count_unknown_model(request.protocol);
  }
  return response;
}

}  // namespace

namespace {

// What every routed request starts with: it is counted in flight, and in cluster mode it
// carries the usage Redis counted when it admitted it (whatever happens now, the answer
// corrects that, a key revoked in between included).
InferenceInfo begin_answer(Services& services, const SharedDecision* decided) {
  if (services.metrics) services.metrics->add_inflight(1);
  InferenceInfo info;
  if (decided != nullptr && decided->admission &&
      decided->admission->refusal == SharedAdmission::Refusal::kNone) {
    info.counted_usage = decided->request.usage;
  }
  return info;
}

// A request answered on the calling thread, which waits for it (usage recorded here).
HttpResponse route_waiting(const HttpRequest& request, Services& services,
                           std::chrono::steady_clock::time_point start) {
  const std::string request_id = request_id_of(request);
  InferenceInfo info = begin_answer(services, nullptr);
  std::string outcome, detail;
  HttpResponse response =
      guarded([&] { return dispatch(request, services, info, nullptr, nullptr); }, outcome, detail);
  return finish(request, std::move(response), services, info, request_id, outcome, detail, start);
}

// A request answered on a socket thread, from routing to its answer, which may be made
// later on the same thread (LaterAnswer).
struct OnLoop {
  std::shared_ptr<const HttpRequest> request;
  Services& services;
  std::chrono::steady_clock::time_point start;
  std::function<void(HttpResponse)> respond;
  std::string request_id;
  InferenceInfo info;
  LaterAnswer later;
  bool shared_limits = false;  // usage goes to Redis without blocking the thread
};

// Sends a made answer: finish(), then — in cluster mode — the usage counted in Redis
// before the answer leaves, without holding the thread.
void send(OnLoop& flight, HttpResponse response, const std::string& outcome,
          const std::string& detail) {
  std::vector<registry::UsageRow> usage;
  response =
      finish(*flight.request, std::move(response), flight.services, flight.info, flight.request_id,
             outcome, detail, flight.start, flight.shared_limits ? &usage : nullptr);
  EventLoop* loop = EventLoop::current();
  if (usage.empty() || loop == nullptr) return flight.respond(std::move(response));
  auto answer = std::make_shared<HttpResponse>(std::move(response));
  flight.services.limits->usage.add_async(
      std::move(usage), *loop,
      [answer, respond = std::move(flight.respond)] { respond(std::move(*answer)); });
}

// Routes a request on its socket thread; a handler may take the offer to answer later
// (a model in a worker process), and then the answer is made and sent when it delivers.
void route_on_loop(std::shared_ptr<const HttpRequest> request, Services& services,
                   const SharedDecision* decided, std::chrono::steady_clock::time_point start,
                   std::function<void(HttpResponse)> respond) {
  auto flight = std::make_shared<OnLoop>(OnLoop{request,
                                                services,
                                                start,
                                                std::move(respond),
                                                request_id_of(*request),
                                                begin_answer(services, decided),
                                                {},
                                                decided != nullptr});
  if (auto poster = LoopPoster::of_current()) {
    // Called once: on a batcher thread, the flight moves on into the posted answer, so it
    // is never destroyed there; on this loop's own thread (a batch gathered here) the
    // answer is made at once — posting it would cost the loop another pass.
    flight->later.deliver = [flight, poster,
                             home = EventLoop::current()](LaterAnswer::MakeAnswer make) mutable {
      auto answer = [flight = std::move(flight), make = std::move(make)]() mutable {
        std::string outcome, detail;
        HttpResponse response = guarded([&] { return make(flight->info); }, outcome, detail);
        send(*flight, std::move(response), outcome, detail);
      };
      if (EventLoop::current() == home) return answer();
      poster->post(std::move(answer));
    };
  }
  std::string outcome, detail;
  HttpResponse response =
      guarded([&] { return dispatch(*request, services, flight->info, decided, &flight->later); },
              outcome, detail);
  const bool taken = flight->later.taken;
  flight->later.deliver = nullptr;  // the handler holds its copy (no cycle through flight)
  if (!taken) send(*flight, std::move(response), outcome, detail);
}

// The shared admit step's request for one that goes through it (a data-plane request
// with a valid key of the infer scope); nullopt for any other, which route() answers
// without Redis or with its refusal.
std::optional<SharedAdmitRequest> shared_admission_of(const HttpRequest& request, Services& s) {
  const auto parts = split_path(request.target);
  if (is_admin(parts)) return std::nullopt;
  PathParams params;
  const auto found = data_routes().find(request.method, parts, params);
  if (found.handler != nullptr && !found.handler->needs_key) return std::nullopt;
  if (found.path_handler != nullptr && !found.path_handler->needs_key) return std::nullopt;
  if (parts.empty() || parts[0] != "v2") return std::nullopt;
  try {
    const Authenticator::Deferred deferred = s.auth.authenticate_deferring_nonce(request);
    Authenticator::require_scope(deferred.principal, registry::kScopeInfer);
    const bool inference = found.handler != nullptr && found.handler->inference;
    return shared_request(s, deferred.principal, inference,
                          deferred.nonce_to_spend ? &*deferred.nonce_to_spend : nullptr,
                          UsageTarget{params.str("model"), params.str("version")});
  } catch (const std::exception&) {
    return std::nullopt;  // refused: route() says why
  }
}

}  // namespace

HttpResponse route(const HttpRequest& request, Services& services) {
  return route_waiting(request, services, std::chrono::steady_clock::now());
}

void route_async(HttpRequest request, Services& services,
                 std::function<void(HttpResponse)> respond) {
  const auto start = std::chrono::steady_clock::now();
  EventLoop* loop = EventLoop::current();
  auto held = std::make_shared<const HttpRequest>(std::move(request));
  if (loop == nullptr) return respond(route_waiting(*held, services, start));
  std::optional<SharedAdmitRequest> shared;
  if (services.limits != nullptr && services.limits->shared) {
    shared = shared_admission_of(*held, services);
  }
  if (!shared) return route_on_loop(held, services, nullptr, start, std::move(respond));
  SharedAdmitRequest sent = *shared;
  services.limits->shared->admit_async(
      sent, *loop,
      [held, &services, respond = std::move(respond), sent, start](
          std::optional<SharedAdmission> admission, std::exception_ptr failure) mutable {
        const SharedDecision decided{sent, std::move(admission), failure};
        route_on_loop(held, services, &decided, start, std::move(respond));
      });
}

StreamDecision route_stream(const HttpRequest& head, Services& services) {
  try {
    const auto parts = split_path(head.target);
    if (is_admin(parts)) {
      StreamDecision upload = open_upload(head, parts, services);  // throws its refusals
      if (upload.sink) return upload;
    }
    const bool health = parts.size() == 3 && parts[0] == "v2" && parts[1] == "health";
#ifndef MG_BENCH_NO_AUTH
    if (!health) {
      // Credentials are checked from the head, before any byte of the body is read or
      // buffered: a caller without a valid key cannot make the server hold 64 MiB for it.
      // (A signed request's signature covers the body: checked once it has arrived.)
      try {
        StreamDecision checked;
        checked.head_state = Authenticator::remember_head(
            authenticated([&] { return services.auth.authenticate_head(head); }));
        return checked;
      } catch (const ApiError& e) {
        if (e.status() != 401 && e.status() != 403) throw;
        // route() refuses it again from the same head, and so logs, counts and audits it
        // as any other refusal; the body stays unread.
        return StreamDecision{nullptr, route(head, services)};
      }
    }
#else
    (void)health;
#endif
    return {};
  } catch (const ApiError& e) {
    // Refused from the head (an upload's key, model or encoding): logged and counted as
    // any routed answer.
    const auto start = std::chrono::steady_clock::now();
    if (services.metrics) services.metrics->add_inflight(1);
    return StreamDecision{nullptr, finish(head, refusal_of(e), services, InferenceInfo{},
                                          request_id_of(head), e.code(), e.detail(), start)};
  } catch (const std::exception& e) {
    return StreamDecision{nullptr, error_response(500, "internal", "internal error")};
  }
}

}  // namespace mg::gateway
