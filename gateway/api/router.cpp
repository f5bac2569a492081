#include "gateway/api/router.h"

#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <optional>
#include <semaphore>
#include <vector>

#include "common/log.h"
#include "gateway/api/access_line.h"
#include "gateway/api/admin_api.h"
#include "gateway/api/admin_audit.h"
#include "gateway/api/content_encoding.h"
#include "gateway/api/errors.h"
#include "gateway/api/inference_info.h"
#include "gateway/api/kserve_codec.h"
#include "gateway/auth/authenticator.h"
#include "gateway/limits/limits.h"
#include "gateway/metrics/metrics.h"
#include "gateway/plugin_host/backend_error.h"
#include "gateway/plugin_host/tensor_check.h"
#include "gateway/serving/model_repository.h"
#include "registry/names.h"
#include "registry/registry.h"
#include "registry/registry_error.h"

namespace mg::gateway {
namespace {

namespace json = boost::json;

HttpResponse json_response(const json::value& body, int status = 200) {
  HttpResponse response;
  response.status = status;
  response.body = json::serialize(body);
  return response;
}

std::vector<std::string_view> split_path(std::string_view target) {
  target = target.substr(0, target.find('?'));
  std::vector<std::string_view> parts;
  parts.reserve(8);
  while (!target.empty()) {
    if (target.front() == '/') {
      target.remove_prefix(1);
      continue;
    }
    std::size_t end = target.find('/');
    parts.push_back(target.substr(0, end));
    target = end == std::string_view::npos ? std::string_view() : target.substr(end);
  }
  return parts;
}

// /v2/models/{m}[/versions/{v}][/{action}]
struct ModelPath {
  std::string model;
  std::string version;  // "" → the default alias
  std::string action;   // "", "ready" or "infer"
};

std::optional<ModelPath> parse_model_path(const std::vector<std::string_view>& parts) {
  if (parts.size() < 3 || parts[0] != "v2" || parts[1] != "models") return std::nullopt;
  ModelPath path{std::string(parts[2]), "", ""};
  std::size_t next = 3;
  if (parts.size() > next + 1 && parts[next] == "versions") {
    path.version = std::string(parts[next + 1]);
    next += 2;
  }
  if (parts.size() == next + 1) {
    path.action = std::string(parts[next]);
  } else if (parts.size() != next) {
    return std::nullopt;
  }
  return path;
}

// The version a path names, resolved against the registry: 404s when unknown.
int64_t resolve_version(Services& s, const ModelPath& path) {
  if (!s.registry.find_model(path.model)) {
    throw ApiError(404, "model_not_found", "no model '" + path.model + "'");
  }
  const std::string ref = path.version.empty() ? "default" : path.version;
  auto version = s.registry.resolve(path.model, ref);
  if (!version) {
    throw ApiError(404, "version_not_found",
                   path.version.empty()
                       ? "model '" + path.model + "' has no default version"
                       : "model '" + path.model + "' has no version or alias '" + ref + "'");
  }
  return *version;
}

std::shared_ptr<LoadedVersion> ready_version(Services& s, const ModelPath& path, int64_t& version) {
  auto loaded = s.models.find(path.model, version);
  if (!loaded) {
    // A version switch may have moved the alias and unloaded the old version between
    // resolving and this lookup: resolve once more.
    const int64_t again = resolve_version(s, path);
    if (again != version) {
      version = again;
      loaded = s.models.find(path.model, version);
    }
  }
  if (!loaded) {
    throw ApiError(
        503, "model_not_ready",
        "version " + std::to_string(version) + " of model '" + path.model + "' is not loaded");
  }
  return loaded;
}

json::array describe(const std::vector<TensorDesc>& tensors) {
  json::array list;
  for (const auto& t : tensors) {
    json::array shape;
    for (int64_t d : t.shape) shape.emplace_back(d);
    list.emplace_back(json::object{
        {"name", t.name}, {"datatype", std::string(dtype_name(t.dtype))}, {"shape", shape}});
  }
  return list;
}

HttpResponse model_metadata(Services& s, const ModelPath& path) {
  int64_t version = resolve_version(s, path);
  auto loaded = ready_version(s, path, version);
  json::array versions;
  for (const auto& v : s.registry.list_versions(path.model)) {
    if (s.models.find(path.model, v.version)) versions.emplace_back(std::to_string(v.version));
  }
  return json_response(json::object{{"name", path.model},
                                    {"versions", versions},
                                    {"platform", loaded->backend()},
                                    {"inputs", describe(loaded->metadata().inputs)},
                                    {"outputs", describe(loaded->metadata().outputs)}});
}

// KServe v2: readiness is the status code (tritonclient's is_model_ready reads 200 as
// ready whatever the body says): 200 when loaded, 503 model_not_ready when not.
HttpResponse model_ready(Services& s, const ModelPath& path) {
  const int64_t version = resolve_version(s, path);
  if (s.models.find(path.model, version) == nullptr) {
    throw ApiError(
        503, "model_not_ready",
        "version " + std::to_string(version) + " of model '" + path.model + "' is not loaded");
  }
  return json_response(json::object{{"name", path.model}, {"ready", true}});
}

// The server is ready when every version an alias points at is loaded: those are what
// the server serves (it loads them at start), so one that failed to load makes a load
// balancer keep traffic away. Model names are not listed: the endpoint needs no key.
HttpResponse server_ready(Services& s) {
  const registry::Catalog& catalog = s.registry.snapshot();
  // Load balancers ask often: the count is kept per thread until the catalogue or the set
  // of loaded versions changes.
  struct Cached {
    const void* registry = nullptr;
    const void* models = nullptr;
    uint64_t catalog_generation = 0, models_generation = 0;
    std::size_t missing = 0;
  };
  thread_local Cached cached;
  const uint64_t models_generation = s.models.generation();
  if (cached.registry != &s.registry || cached.models != &s.models ||
      cached.catalog_generation != catalog.generation ||
      cached.models_generation != models_generation) {
    std::size_t missing = 0;
    for (const auto& [name, entry] : catalog.models) {
      for (const auto& [alias, version] : entry.aliases) {
        if (s.models.find(name, version) == nullptr) ++missing;
      }
    }
    cached = Cached{&s.registry, &s.models, catalog.generation, models_generation, missing};
  }
  const std::size_t missing = cached.missing;
  if (missing == 0) return json_response(json::object{{"ready", true}});
  return json_response(
      json::object{{"ready", false},
                   {"error", std::to_string(missing) +
                                 " aliased model version(s) are not loaded (see the server log "
                                 "and `mgctl model list`)"},
                   {"code", "model_not_ready"}},
      503);
}

// Checks every input against the model's metadata before it reaches the backend.
void validate_inputs(const ModelMetadata& metadata, const InferRequest& request) {
  for (const auto& input : request.inputs) {
    const TensorDesc* declared = metadata.find_input(input.name);
    if (declared == nullptr) {
      std::string names;
      for (const auto& i : metadata.inputs) names += (names.empty() ? "'" : ", '") + i.name + "'";
      throw bad_request("input '" + input.name +
                        "' is not an input of this model (inputs: " + names + ")");
    }
    TensorRef ref{input.name, input.dtype, input.shape, input.data.data(), input.data.size()};
    if (auto why = check_tensor(*declared, ref, std::nullopt)) {
      throw bad_request("input " + why->substr(std::string("tensor ").size()));
    }
    if (metadata.max_batch_size > 0 && !input.shape.empty() &&
        input.shape[0] > metadata.max_batch_size) {
      throw bad_request("input '" + input.name + "': batch of " + std::to_string(input.shape[0]) +
                        " exceeds the model's max batch size " +
                        std::to_string(metadata.max_batch_size));
    }
  }
  for (const auto& declared : metadata.inputs) {
    bool given = false;
    for (const auto& input : request.inputs) {
      if (input.name == declared.name) {
        if (given) throw bad_request("input '" + declared.name + "' is given twice");
        given = true;
      }
    }
    if (!given) throw bad_request("missing input '" + declared.name + "'");
  }
  if (metadata.max_batch_size > 0) {
    for (const auto& input : request.inputs) {
      if (input.shape[0] != request.inputs[0].shape[0]) {
        throw bad_request("inputs disagree on the batch size (dimension 0)");
      }
    }
  }
  for (const auto& output : request.outputs) {
    if (metadata.find_output(output.name) == nullptr) {
      throw bad_request("output '" + output.name + "' is not an output of this model");
    }
  }
}

// Rate limit (every data-plane request) and quota (inference requests): 429 when spent.
void admit(Services& s, const Principal& caller, bool inference, InferenceInfo& info) {
  if (s.limits == nullptr) return;
  Limits& limits = *s.limits;
  const int64_t now_ms = limits.clock_ms();
  if (auto rate = limits.rates.take(caller.key_id, caller.rate, caller.burst, now_ms * 1'000'000)) {
    info.limit = rate->state;
    if (!rate->allowed) {
      if (s.metrics) s.metrics->count_rate_limited(caller.tenant, "rate_limited");
      throw ApiError(429, "rate_limited",
                     "key " + caller.key_id + " is over its rate limit of " +
                         std::to_string(caller.rate) + " requests/s",
                     rate->retry_after);
    }
  }
  if (!inference) return;
  const registry::Catalog& catalog = s.registry.snapshot();
  auto tenant = catalog.tenants.find(caller.tenant);
  if (tenant == catalog.tenants.end()) return;
  const int64_t limit = tenant->second.quota_limit;
  const registry::QuotaPeriod period = tenant->second.quota_period;
  if (auto quota = limits.quotas.take(caller.tenant, limit, period, now_ms / 1000)) {
    if (!info.limit || quota->state.remaining < info.limit->remaining) info.limit = quota->state;
    if (!quota->allowed) {
      if (s.metrics) s.metrics->count_rate_limited(caller.tenant, "quota_exceeded");
      throw ApiError(429, "quota_exceeded",
                     "tenant '" + caller.tenant + "' has used its quota of " +
                         std::to_string(limit) + " requests per " +
                         std::string(registry::period_name(period)),
                     quota->retry_after);
    }
  }
}

// JSON parts over 1 MiB decode at most two at a time (a decode holds ~13x the text in
// memory): many large requests at once wait here, on handler threads, whose bounded queue
// sheds the rest with 503. Smaller ones decode at once; runs_inline keeps large bodies off
// the socket threads.
constexpr std::size_t kLargeJsonBytes = 1 << 20;
std::counting_semaphore<2> large_decodes(2);

InferRequest decode_large_bodies_few_at_a_time(const HttpRequest& http, const Services& s) {
  if (json_part_length(http) <= kLargeJsonBytes) {
    return decode_infer_request(http, s.max_json_bytes);
  }
  large_decodes.acquire();
  struct Release {
    ~Release() { large_decodes.release(); }
  } release;
  return decode_infer_request(http, s.max_json_bytes);
}

HttpResponse infer(Services& s, const ModelPath& path, const HttpRequest& http,
                   InferenceInfo& info) {
  int64_t version = resolve_version(s, path);
  info.model = path.model;
  info.version = version;
  auto loaded = ready_version(s, path, version);
  info.version = version;
  InferRequest request = decode_large_bodies_few_at_a_time(http, s);
  const ModelMetadata& metadata = loaded->metadata();
  validate_inputs(metadata, request);
  if (metadata.max_batch_size > 0 && request.inputs[0].shape[0] == 0) {
    throw bad_request("the batch (dimension 0) is empty");
  }
  std::vector<TensorRef> inputs;
  for (const auto& input : request.inputs) {
    inputs.push_back(
        TensorRef{input.name, input.dtype, input.shape, input.data.data(), input.data.size()});
  }
  std::vector<std::string> wanted;
  for (const auto& output : request.outputs) wanted.push_back(output.name);
  DynamicBatcher::Submitted pending;
  try {
    pending = loaded->submit_cancellable(std::move(inputs), std::move(wanted));
  } catch (const QueueFull&) {
    throw ApiError(503, "overloaded", "model '" + path.model + "' has too many queued requests");
  }
  if (pending.result.wait_for(s.inference_timeout) != std::future_status::ready) {
    // Still queued: taken out and refused (it never runs). Already running: its batch ends
    // when the backend returns, and its data must stay valid until then.
    if (loaded->cancel(pending.ticket)) {
      throw ApiError(503, "deadline_exceeded",
                     "model '" + path.model + "' did not start this request within " +
                         std::to_string(s.inference_timeout.count()) + " ms; retry later",
                     1);
    }
  }
  RequestResult result = pending.result.get();
  info.queue_seconds = std::chrono::duration<double>(result.queue_time).count();
  info.compute_seconds = std::chrono::duration<double>(result.compute_time).count();
  if (const auto& failure = result.failure) {
    if (failure->code == MG_ERROR_INVALID_ARGUMENT) throw bad_request(failure->message);
    throw ApiError(500, "internal", "the model failed to run this request")
        .with_detail("model " + path.model + "/" + std::to_string(version) + ": " +
                     failure->message);
  }
  if (!request.inputs.empty() && !request.inputs[0].shape.empty()) {
    info.items =
        metadata.max_batch_size > 0 ? static_cast<uint64_t>(request.inputs[0].shape[0]) : 1;
  }
  std::vector<InferOutput> outputs;
  for (const auto& out : result.outputs) {
    bool binary = request.binary_outputs;
    for (const auto& wanted : request.outputs)
      binary = binary || (wanted.name == out.name && wanted.binary);
    outputs.push_back(InferOutput{out.name, out.dtype, out.shape,
                                  std::span(out.data.get(), out.byte_size), binary});
  }
  return encode_infer_response(path.model, version, request.id, outputs);
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

HttpResponse dispatch(const HttpRequest& request, Services& s, InferenceInfo& info) {
  const auto parts = split_path(request.target);
  const bool get = request.method == "GET", post = request.method == "POST";
  if (parts.size() == 3 && parts[0] == "v2" && parts[1] == "health") {
    if (!get) throw ApiError(405, "bad_request", "use GET");
    if (parts[2] == "live") return json_response(json::object{{"live", true}});
    if (parts[2] == "ready") return server_ready(s);
  }
  if (parts.size() >= 2 && parts[0] == "admin" && parts[1] == "v1") {
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
  if (parts.empty() || parts[0] != "v2") {
    throw ApiError(
        404, "not_found",
        "no such endpoint: " + request.method + " " + std::string(request.target.substr(0, 200)));
  }
  // The data plane: every route but health needs an infer-scope key within its limits.
#ifdef MG_BENCH_NO_AUTH
  // A bench-only build (cmake -DMG_BENCH_NO_AUTH=ON) measures the gateway without
  // authentication, limits and metering; never shipped.
  if (auto path = parse_model_path(parts); path && path->action == "infer" && post) {
    return infer(s, *path, request, info);
  }
#endif
  Authenticator::Deferred deferred =
      authenticated([&] { return s.auth.authenticate_deferring_nonce(request); });
  const Principal& caller = deferred.principal;
  info.tenant = caller.tenant;
  info.key_id = caller.key_id;
  if (s.metrics) s.metrics->count_tenant_request(caller.tenant);
  authenticated([&] { Authenticator::require_scope(caller, registry::kScopeInfer); });
  const bool inference = parts.size() >= 4 && parts.back() == "infer" && post;
  admit(s, caller, inference, info);
  std::optional<TenantConcurrency::Slot> slot;  // held until the answer is made
  if (inference && s.limits != nullptr) {
    slot = s.limits->concurrency.enter(caller.tenant);
    if (!slot) {
      if (s.metrics) s.metrics->count_rate_limited(caller.tenant, "rate_limited");
      throw ApiError(429, "rate_limited",
                     "tenant '" + caller.tenant + "' has " +
                         std::to_string(s.limits->concurrency.cap()) +
                         " inference requests in flight, its limit while other tenants wait",
                     1);
    }
  }
  // Only a request within its limits spends its nonce: one refused above uses up neither
  // a nonce nor room in the replay cache (a low-rate key cannot fill it).
  if (deferred.nonce_to_spend) {
    authenticated([&] { s.auth.spend_nonce(*deferred.nonce_to_spend); });
  }
  if (parts.size() == 1) {
    if (!get) throw ApiError(405, "bad_request", "use GET");
    return json_response(json::object{{"name", "modelgate"},
                                      {"version", s.server_version},
                                      {"extensions", json::array{"binary_tensor_data"}}});
  }
  if (parts.size() >= 3 && parts[1] == "models" && registry::is_reserved_model_name(parts[2])) {
    // Triton's extensions (/v2/models/stats, …) that this server does not serve: never
    // the metadata of a model of that name (no model may have one).
    throw ApiError(404, "not_found",
                   "no such endpoint: " + request.method + " " +
                       std::string(request.target.substr(0, 200)) +
                       " (this server does not serve that KServe/Triton extension)");
  }
  if (auto path = parse_model_path(parts)) {
    authenticated([&] { Authenticator::require_model(caller, path->model); });
    if (path->action.empty() && get) return model_metadata(s, *path);
    if (path->action == "ready" && get) return model_ready(s, *path);
    if (path->action == "infer" && post) {
      std::optional<HttpRequest> storage;
      return infer(s, *path, decoded(request, s, storage), info);
    }
    if (path->action.empty() || path->action == "ready" || path->action == "infer") {
      throw ApiError(405, "bad_request", "method " + request.method + " is not allowed here");
    }
  }
  throw ApiError(
      404, "not_found",
      "no such endpoint: " + request.method + " " + std::string(request.target.substr(0, 200)));
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

}  // namespace

bool runs_inline(const HttpRequest& request, Services& services) {
  if (request.method == "GET") return true;
  // A large body's decode would hold a socket thread (and every connection on it).
  if (request.method != "POST" || request.body.size() > kInlineBodyBytes) return false;
  const auto parts = split_path(request.target);
  const auto path = parse_model_path(parts);
  if (!path || path->action != "infer") return false;
  const auto version =
      services.registry.resolve(path->model, path->version.empty() ? "default" : path->version);
  if (!version) return true;  // an error answer: cheap
  const auto loaded = services.models.find(path->model, *version);
  return loaded && loaded->batcher().runs_fast(std::chrono::microseconds(250));
}

StreamDecision route_stream(const HttpRequest& head, Services& services) {
  try {
    const auto parts = split_path(head.target);
    if (parts.size() >= 2 && parts[0] == "admin" && parts[1] == "v1") {
      StreamDecision upload = open_upload(head, parts, services);
      if (upload.sink || upload.refusal) return upload;
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
    return StreamDecision{nullptr, refusal_of(e)};
  } catch (const std::exception& e) {
    return StreamDecision{nullptr, error_response(500, "internal", "internal error")};
  }
}

namespace {

// The router proper; `outcome` becomes "ok" or the error code of the answer.
// `detail` receives what the server log gets for a server-side failure (never the client).
HttpResponse answer(const HttpRequest& request, Services& services, InferenceInfo& info,
                    std::string& outcome, std::string& detail) {
  try {
    HttpResponse response = dispatch(request, services, info);
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

HttpResponse route(const HttpRequest& request, Services& services) {
  Metrics* metrics = services.metrics;
  const auto start = std::chrono::steady_clock::now();
  const std::string request_id = request_id_of(request);
  if (metrics) metrics->add_inflight(1);
  InferenceInfo info;
  std::string outcome, detail;
  HttpResponse response = answer(request, services, info, outcome, detail);
  if (response.status >= 500 && response.status != 503) {
    // The tenant got a generic message; the operator gets what failed, by request id.
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
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    write_access_log(*services.access_log, request, response, info, request_id, outcome,
                     elapsed.count());
  }
  if (services.limits && info.version > 0 && !info.tenant.empty()) {
    services.limits->usage.record(info.tenant, info.key_id, info.model, info.version, info.items,
                                  response.status >= 400, services.limits->clock_ms() / 1000);
  }
  if (metrics == nullptr) return response;
  metrics->add_inflight(-1);
  if (response.status == 401 || response.status == 403) metrics->count_auth_failure(outcome);
  if (response.status >= 400) metrics->count_refusal(outcome);
  if (info.version > 0) {
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    metrics->observe_inference(info.model, info.version, outcome, info.items, elapsed.count(),
                               info.queue_seconds);
  } else if (outcome == "model_not_found") {
    metrics->count_unknown_model();  // counted, but its name never becomes a label
  }
  return response;
}

}  // namespace mg::gateway
