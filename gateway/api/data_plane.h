#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "gateway/api/inference_info.h"
#include "gateway/api/route_table.h"
#include "gateway/api/router.h"
#include "gateway/http/http_types.h"

namespace mg::gateway {

class LoadedVersion;
struct Principal;

// How a handler answers later without holding the calling thread: inference on a model
// in a worker process, taken on a socket thread, waits in its batcher with no thread at
// all. A handler that takes the offer sets `taken`, returns an empty response, and calls
// `deliver` once, from any thread, with what makes the answer; the router runs that on its
// own thread (it may throw as a handler does).
struct LaterAnswer {
  using MakeAnswer = std::function<HttpResponse(InferenceInfo&)>;
  std::function<void(MakeAnswer)> deliver;
  bool taken = false;
  std::optional<HttpRequest> decoded;  // the request's decompressed body, kept until then
};

// One data-plane request (KServe v2), past authentication and admission for the routes
// that need a key.
struct DataCall {
  const HttpRequest& request;
  const PathParams& params;
  Services& services;
  InferenceInfo& info;
  LaterAnswer* later = nullptr;       // null: the answer is made before the handler returns
  const Principal* caller = nullptr;  // the key's holder; null on routes that need no key
};

// The model a path names: {model} and, when given, {version} (a number or an alias);
// no version means the "default" alias.
struct ModelRef {
  std::string model;
  std::string version;
};
ModelRef model_ref(const PathParams& params);

// The version a path names, resolved against the registry: 404 model_not_found |
// version_not_found. With `caller` (an inference request), a weighted alias (a canary)
// picks one of its versions: per request, or by the caller's key when the split is sticky.
// Without, the alias's own version.
int64_t resolve_version(Services& s, const ModelRef& path, const Principal* caller = nullptr);
// Its loaded handle: 503 model_not_ready when it is not loaded. `version` is updated when a
// version switch moved the alias in between.
std::shared_ptr<LoadedVersion> ready_version(Services& s, const ModelRef& path, int64_t& version,
                                             const Principal* caller = nullptr);

// GET /v2/health/live, /v2/health/ready (no key needed).
HttpResponse server_live(DataCall& call);
HttpResponse server_ready(DataCall& call);
// GET /v2
HttpResponse server_metadata(DataCall& call);
// GET /v2/models/{model}[/versions/{version}]
HttpResponse model_metadata(DataCall& call);
// GET /v2/models/{model}[/versions/{version}]/ready
HttpResponse model_ready(DataCall& call);
// POST /v2/models/{model}[/versions/{version}]/infer
HttpResponse infer(DataCall& call);

}  // namespace mg::gateway
