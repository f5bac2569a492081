#include "gateway/api/data_plane.h"

#include <boost/json.hpp>
#include <list>
#include <optional>
#include <random>
#include <semaphore>
#include <thread>
#include <vector>

#include "gateway/api/errors.h"
#include "gateway/api/input_validation.h"
#include "gateway/api/json_body.h"
#include "gateway/api/kserve_codec.h"
#include "gateway/api/raw_inputs.h"
#include "gateway/auth/authenticator.h"
#include "gateway/plugin_host/backend_error.h"
#include "gateway/preprocess/classification.h"
#include "gateway/serving/loop_gather.h"
#include "gateway/serving/model_repository.h"
#include "registry/registry.h"

namespace mg::gateway {

namespace json = boost::json;

ModelRef model_ref(const PathParams& params) {
  return ModelRef{params.str("model"), params.str("version")};
}

namespace {

// A random number per call, for weighted aliases' per-request splits: splitmix64 over a
// per-thread state seeded once (no lock, no shared state on the request path).
uint64_t next_draw() {
  thread_local uint64_t state = std::random_device{}() ^ (uint64_t{std::random_device{}()} << 32) ^
                                std::hash<std::thread::id>{}(std::this_thread::get_id());
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// A sticky split's draw: FNV-1a of the key id, model and alias, the same on every replica
// and every request, so a key stays on one version while the split stands.
uint64_t sticky_draw(const Principal* caller, const ModelRef& path, std::string_view alias) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  auto mix = [&hash](std::string_view text) {
    for (const char c : text) hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
    hash = (hash ^ 0xff) * 0x100000001b3ULL;  // a separator no text byte equals
  };
  mix(caller != nullptr ? std::string_view(caller->key_id) : std::string_view());
  mix(path.model);
  mix(alias);
  return hash;
}

}  // namespace

// The version a path names, resolved against the registry: 404s when unknown.
int64_t resolve_version(Services& s, const ModelRef& path, const Principal* caller) {
  if (!s.registry.find_model(path.model)) {
    throw ApiError(404, "model_not_found", "no model '" + path.model + "'");
  }
  const std::string ref = path.version.empty() ? "default" : path.version;
  auto version = caller == nullptr ? s.registry.resolve(path.model, ref)
                                   : s.registry.snapshot().route(path.model, ref, next_draw(),
                                                                 sticky_draw(caller, path, ref));
  if (!version) {
    throw ApiError(404, "version_not_found",
                   path.version.empty()
                       ? "model '" + path.model + "' has no default version"
                       : "model '" + path.model + "' has no version or alias '" + ref + "'");
  }
  return *version;
}

namespace {

// A version whose backend worker is being restarted (or whose restarts gave up).
ApiError not_ready_worker(const std::string& model, int64_t version) {
  return ApiError(503, "model_not_ready",
                  "version " + std::to_string(version) + " of model '" + model +
                      "' is not ready: its backend worker is restarting after a failure",
                  1);
}

}  // namespace

std::shared_ptr<LoadedVersion> ready_version(Services& s, const ModelRef& path, int64_t& version,
                                             const Principal* caller) {
  auto loaded = s.models.find(path.model, version);
  if (!loaded) {
    // A version switch may have moved the alias and unloaded the old version between
    // resolving and this lookup: resolve once more.
    const int64_t again = resolve_version(s, path, caller);
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
  if (!loaded->ready()) throw not_ready_worker(path.model, version);
  return loaded;
}

namespace {

// JSON parts over 1 MiB decode at most two at a time (a decode holds ~13x the text in
// memory): many large requests at once wait here, on handler threads, whose bounded queue
// sheds the rest with 503. Smaller ones decode at once; runs_inline keeps large bodies off
// the socket threads.
constexpr std::size_t kLargeJsonBytes = 1 << 20;
std::counting_semaphore<2> large_decodes(2);

InferRequest decode_large_bodies_few_at_a_time(const HttpRequest& http, const Services& s) {
  const std::size_t json_length = json_part_length(http);
  if (json_length <= kLargeJsonBytes) {
    return decode_infer_request(http, json_length, s.max_json_bytes);
  }
  large_decodes.acquire();
  struct Release {
    ~Release() { large_decodes.release(); }
  } release;
  return decode_infer_request(http, json_length, s.max_json_bytes);
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

}  // namespace

HttpResponse model_metadata(DataCall& call) {
  Services& s = call.services;
  const ModelRef path = model_ref(call.params);
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
HttpResponse model_ready(DataCall& call) {
  Services& s = call.services;
  const ModelRef path = model_ref(call.params);
  const int64_t version = resolve_version(s, path);
  const auto loaded = s.models.find(path.model, version);
  if (loaded == nullptr) {
    throw ApiError(
        503, "model_not_ready",
        "version " + std::to_string(version) + " of model '" + path.model + "' is not loaded");
  }
  if (!loaded->ready()) throw not_ready_worker(path.model, version);
  return json_response(json::object{{"name", path.model}, {"ready", true}});
}

// The server is ready when every version an alias points at is loaded: those are what
// the server serves (it loads them at start), so one that failed to load makes a load
// balancer keep traffic away. Model names are not listed: the endpoint needs no key.
// Cluster mode: a replica has synced its catalogue before it listens (it reads it at
// start or exits); a later PostgreSQL outage does not make it unready, since it keeps
// serving from its snapshot (unready replicas everywhere would turn an outage of admin
// writes into an outage of inference).
HttpResponse server_ready(DataCall& call) {
  Services& s = call.services;
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
      for (const auto& [alias, own] : entry.aliases) {
        for (int64_t version : entry.alias_versions(alias)) {  // a canary's versions too
          const auto loaded = s.models.find(name, version);
          if (loaded == nullptr || !loaded->ready()) ++missing;
        }
      }
    }
    cached = Cached{&s.registry, &s.models, catalog.generation, models_generation, missing};
  }
  const std::size_t missing = cached.missing;
  if (missing == 0) return json_response(json::object{{"ready", true}});
  return json_response(
      json::object{{"ready", false},
                   {"error", std::to_string(missing) +
                                 " aliased model version(s) are not loaded or not ready (see the "
                                 "server log and `mgctl model list`)"},
                   {"code", "model_not_ready"}},
      503);
}

HttpResponse server_live(DataCall&) { return json_response(json::object{{"live", true}}); }

HttpResponse server_metadata(DataCall& call) {
  return json_response(
      json::object{{"name", "modelgate"},
                   {"version", call.services.server_version},
                   {"extensions", json::array{"binary_tensor_data", "model_configuration",
                                              "statistics", "model_repository"}}});
}

namespace {

// A copy of a request for the model's shadow candidate (docs/evaluation.md "Shadow"): its
// inputs owned (the request is answered and gone before the copy runs), and the served
// answer it is compared with.
struct ShadowCopy {
  std::shared_ptr<LoadedVersion> candidate;
  ShadowRunner* runner = nullptr;
  std::chrono::milliseconds timeout{0};  // the server's inference timeout
  std::vector<std::vector<std::byte>> data;
  std::vector<TensorRef> inputs;
  std::string output;         // the served answer's first output, the one compared
  std::vector<float> served;  // its values
  uint64_t rows = 0;
};

const std::string kDefaultAlias = "default";

// A copy for the shadow when this request is one of the share the model config's "shadow"
// takes from the alias it came through; null otherwise (most requests: one lookup).
std::shared_ptr<ShadowCopy> shadow_copy(Services& s, const ModelRef& path, int64_t version,
                                        const CheckedRequest& checked) {
  const registry::Catalog::Entry* entry = s.registry.snapshot().find(path.model);
  if (entry == nullptr || !entry->shadow) return nullptr;
  const registry::Shadow shadow = *entry->shadow;
  const std::string& alias = path.version.empty() ? kDefaultAlias : path.version;
  if (shadow.alias != alias || shadow.version == version) return nullptr;
  if (static_cast<double>(next_draw() >> 11) * 0x1.0p-53 >= shadow.share) return nullptr;
  auto candidate = s.models.find(path.model, shadow.version);
  if (candidate == nullptr || !candidate->ready()) return nullptr;
  auto copy = std::make_shared<ShadowCopy>();
  copy->candidate = std::move(candidate);
  copy->runner = &s.models.shadow_runner();
  copy->timeout = s.inference_timeout;
  copy->data.reserve(checked.inputs.size());
  for (const TensorRef& input : checked.inputs) {
    const auto* bytes = static_cast<const std::byte*>(input.data);
    copy->data.emplace_back(bytes, bytes + input.byte_size);
    copy->inputs.push_back(
        TensorRef{input.name, input.dtype, input.shape, copy->data.back().data(), input.byte_size});
  }
  return copy;
}

// Runs one copy on the candidate and compares its answer with the served one — on the
// shadow runner's thread, after the caller has its answer. Whatever happens to it stays in
// the candidate's ShadowStats: never the caller's answer.
void run_shadow_copy(ShadowCopy& copy) noexcept {
  ShadowStats& stats = *copy.candidate->shadow_stats();
  try {
    const auto started = std::chrono::steady_clock::now();
    DynamicBatcher::Submitted submitted =
        copy.candidate->submit_cancellable(copy.inputs, {copy.output});
    std::optional<RequestResult> result = std::move(submitted.ran_here);
    if (!result) {
      if (submitted.result.wait_until(started + copy.timeout) != std::future_status::ready &&
          copy.candidate->cancel(submitted.ticket)) {
        stats.record_error();  // still queued at the timeout: never run
        return;
      }
      result = submitted.result.get();
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    for (const OutputTensor& answer : result->outputs) {
      if (result->failure || answer.name != copy.output || answer.dtype != DType::kFp32) continue;
      const auto* values = reinterpret_cast<const float*>(answer.data.get());
      stats.record(copy.served, std::span(values, answer.byte_size / sizeof(float)), copy.rows,
                   seconds);
      return;
    }
    stats.record_error();
  } catch (...) {
    stats.record_error();  // the queue was full, or out of memory
  }
}

// Keeps the served answer's first output with the copy, and hands the copy to the shadow
// runner once `response` has been written to the caller (HttpResponse::after_sent).
void send_to_shadow_after(HttpResponse& response, const std::shared_ptr<ShadowCopy>& copy,
                          const RequestResult& served, bool batched) noexcept {
  try {
    if (served.outputs.empty() || served.outputs[0].dtype != DType::kFp32) return;
    const OutputTensor& out = served.outputs[0];
    const auto* first = reinterpret_cast<const float*>(out.data.get());
    copy->served.assign(first, first + out.byte_size / sizeof(float));
    copy->output = out.name;
    copy->rows = batched && !out.shape.empty() ? static_cast<uint64_t>(out.shape[0]) : 1;
    response.after_sent = after_sent_job([copy]() noexcept {
      try {
        if (copy->runner->offer([copy]() noexcept { run_shadow_copy(*copy); })) return;
      } catch (...) {  // out of memory queueing it: dropped as when the queue is full
      }
      copy->candidate->shadow_stats()->record_dropped();
    });
  } catch (...) {
    // Out of memory copying the answer: the shadow loses one copy, the caller nothing.
  }
}

// An inference request once decoded and validated: what its answer needs, and the data its
// queued inputs point into (kept until the batch has run).
struct AcceptedInfer {
  ModelRef path;
  int64_t version = 0;
  bool batched = false;  // the model has a batch dimension: items are dimension 0
  InferRequest request;
  // When it must have started: the server's inference timeout, or the caller's own
  // deadline when that is sooner (caller_deadline).
  std::chrono::steady_clock::time_point start_by;
  bool caller_deadline = false;
  // The version's class labels (its config's "postprocess"), for classification outputs;
  // shared with the version, so an unload while the request waits leaves them valid.
  std::shared_ptr<const Postprocessing> postprocessing;
  std::shared_ptr<ShadowCopy> shadow;  // set when a copy goes to the model's shadow
};

// An output asked for with "classification": K, as the BYTES tensor of its top K classes
// per row ("score:index:label"), serialised into `storage`.
InferOutput classify(const OutputTensor& out, const RequestedOutput& wanted,
                     const AcceptedInfer& accepted, std::string& storage) {
  const uint32_t k = wanted.classification;
  if (out.dtype != DType::kFp32) {
    throw bad_request("output '" + out.name + "': classification needs an FP32 output, not " +
                      std::string(dtype_name(out.dtype)));
  }
  std::vector<int64_t> shape = out.shape;
  std::vector<std::string> classes;
  try {
    classes = classify_rows(
        std::span(reinterpret_cast<const float*>(out.data.get()), out.byte_size / sizeof(float)),
        shape, accepted.batched, k,
        accepted.postprocessing ? accepted.postprocessing->find(out.name) : nullptr,
        wanted.classification_objects);
  } catch (const std::invalid_argument& e) {
    throw bad_request("output '" + out.name + "': " + e.what());
  }
  for (const auto& text : classes) {
    const auto length = static_cast<uint32_t>(text.size());
    storage.append(reinterpret_cast<const char*>(&length), 4);
    storage += text;
  }
  return InferOutput{out.name,
                     DType::kBytes,
                     std::move(shape),
                     std::as_bytes(std::span(storage.data(), storage.size())),
                     false,
                     wanted.classification_objects};
}

// Sets accepted.start_by from the server's timeout, counted from `now`, and the caller's
// deadline.
void set_start_by(AcceptedInfer& accepted, const HttpRequest& http, const Services& s,
                  std::chrono::steady_clock::time_point now) {
  accepted.start_by = now + s.inference_timeout;
  if (http.deadline && *http.deadline < accepted.start_by) {
    accepted.start_by = *http.deadline;
    accepted.caller_deadline = true;
  }
}

ApiError queue_full(const std::string& model) {
  return ApiError(503, "overloaded", "model '" + model + "' has too many queued requests");
}

// The answer to an accepted request once its batch has run: the failure's error, or the
// outputs encoded.
HttpResponse answer_infer(const AcceptedInfer& accepted, RequestResult result, const Services& s,
                          InferenceInfo& info) {
  const ModelRef& path = accepted.path;
  const int64_t version = accepted.version;
  info.queue_seconds = std::chrono::duration<double>(result.queue_time).count();
  info.compute_seconds = std::chrono::duration<double>(result.compute_time).count();
  if (const auto& failure = result.failure) {
    if (failure->code == MG_ERROR_INVALID_ARGUMENT) throw bad_request(failure->message);
    if (failure->code == kWorkerRestartingCode) throw not_ready_worker(path.model, version);
    if (failure->code == kQueueFullCode) throw queue_full(path.model);
    if (failure->code == kQueueDeadlineCode) {
      if (accepted.caller_deadline) {
        throw ApiError(
            503, "deadline_exceeded",
            "model '" + path.model + "' did not start this request before the call's deadline");
      }
      throw ApiError(503, "deadline_exceeded",
                     "model '" + path.model + "' did not start this request within " +
                         std::to_string(s.inference_timeout.count()) + " ms; retry later",
                     1);
    }
    if (failure->code == kWorkerFailedCode) {
      // Only this batch failed; the worker is restarted (the model is not ready until then).
      throw ApiError(503, "backend_failed", failure->message, 1)
          .with_detail("model " + path.model + "/" + std::to_string(version) + ": " +
                       failure->message);
    }
    throw ApiError(500, "internal", "the model failed to run this request")
        .with_detail("model " + path.model + "/" + std::to_string(version) + ": " +
                     failure->message);
  }
  const auto encoding = std::chrono::steady_clock::now();
  const InferRequest& request = accepted.request;
  if (!request.inputs.empty() && !request.inputs[0].shape.empty()) {
    info.items = accepted.batched ? static_cast<uint64_t>(request.inputs[0].shape[0]) : 1;
  }
  std::vector<InferOutput> outputs;
  // Serialised BYTES of classification outputs, which `outputs` point into: a list keeps
  // each string in place as more are added, and allocates nothing when none is asked for
  // (a reserved vector cost every request an allocation).
  std::list<std::string> classified;
  for (const auto& out : result.outputs) {
    bool binary = request.binary_outputs;
    const RequestedOutput* classified_as = nullptr;
    for (const auto& wanted : request.outputs) {
      if (wanted.name != out.name) continue;
      binary = binary || wanted.binary;
      if (wanted.classification > 0) classified_as = &wanted;
    }
    if (classified_as != nullptr) {
      InferOutput top = classify(out, *classified_as, accepted, classified.emplace_back());
      top.binary = binary;
      outputs.push_back(std::move(top));
      continue;
    }
    outputs.push_back(InferOutput{out.name, out.dtype, out.shape,
                                  std::span(out.data.get(), out.byte_size), binary});
  }
  HttpResponse response = encode_infer_response(path.model, version, request.id, outputs);
  if (accepted.shadow) send_to_shadow_after(response, accepted.shadow, result, accepted.batched);
  info.output_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - encoding).count();
  return response;
}

// What a request answered later does with its batch's result: hands it to the caller's
// socket thread (LaterAnswer::deliver), where the answer is made. Everything the request
// holds moves on to the answer: nothing of it is left to be destroyed on a batcher thread.
DynamicBatcher::Done answer_later(std::shared_ptr<AcceptedInfer> accepted, const LaterAnswer& later,
                                  const Services& s) {
  return
      [accepted = std::move(accepted), deliver = later.deliver, &s](RequestResult result) mutable {
        auto held = std::make_shared<RequestResult>(std::move(result));  // move-only
        deliver([accepted = std::move(accepted), held = std::move(held),
                 &s](InferenceInfo& info) mutable {
          return answer_infer(*accepted, std::move(*held), s, info);
        });
      };
}

// A model in a worker process, offered an answer later: the request waits in the batcher
// without a thread, and its answer is made when its batch has run.
HttpResponse infer_later(DataCall& call, LoadedVersion& loaded,
                         std::shared_ptr<AcceptedInfer> accepted, CheckedRequest checked) {
  const std::string model = accepted->path.model;
  const auto start_by = accepted->start_by;
  try {
    loaded.submit_async(std::move(checked.inputs), std::move(checked.outputs), start_by,
                        answer_later(std::move(accepted), *call.later, call.services));
  } catch (const QueueFull&) {
    throw queue_full(model);
  }
  call.later->taken = true;
  return {};
}

// A request on a socket thread for a model that runs there: gathered with the others this
// thread takes before its ready handlers have run, and run with them (gather_on_loop).
// `arrived`: when it was decoded and checked.
HttpResponse infer_gathered(DataCall& call, std::shared_ptr<LoadedVersion> loaded,
                            std::shared_ptr<AcceptedInfer> accepted, CheckedRequest checked,
                            std::chrono::steady_clock::time_point arrived) {
  const auto start_by = accepted->start_by;
  gather_on_loop(
      *EventLoop::current(), std::move(loaded),
      {std::move(checked.inputs), std::move(checked.outputs),
       answer_later(std::move(accepted), *call.later, call.services), arrived, start_by});
  call.later->taken = true;
  return {};
}

}  // namespace

HttpResponse infer(DataCall& call) {
  Services& s = call.services;
  InferenceInfo& info = call.info;
  const HttpRequest& http = call.request;  // decompressed by the router
  auto accepted = std::make_shared<AcceptedInfer>();
  accepted->path = model_ref(call.params);
  // Decoding starts now: resolving the version below (lookups, under a microsecond) counts
  // in its time, and the request's timeout counts from here.
  const auto decoding = std::chrono::steady_clock::now();
  set_start_by(*accepted, http, s, decoding);
  const ModelRef& path = accepted->path;
  // The caller's key picks the version of a weighted alias (a canary) it reaches.
  static const Principal anonymous;
  const Principal* caller = call.caller != nullptr ? call.caller : &anonymous;
  int64_t version = resolve_version(s, path, caller);
  info.model = path.model;
  info.version = version;
  auto loaded = ready_version(s, path, version, caller);
  info.version = accepted->version = version;
  info.stats = loaded->stats();
  accepted->request = decode_large_bodies_few_at_a_time(http, s);
  const ModelMetadata& metadata = loaded->metadata();
  prepare_raw_inputs(loaded->preprocessing(), metadata, accepted->request);
  accepted->postprocessing = loaded->postprocessing();
  accepted->batched = metadata.max_batch_size > 0;
  CheckedRequest checked = validate_inputs(metadata, accepted->request);
  accepted->shadow = shadow_copy(s, path, version, checked);
  const auto decoded = std::chrono::steady_clock::now();
  info.input_seconds = std::chrono::duration<double>(decoded - decoding).count();
  if (call.later != nullptr && loaded->isolation() == Isolation::kProcess) {
    return infer_later(call, *loaded, std::move(accepted), std::move(checked));
  }
  if (call.later != nullptr && call.later->deliver && accepted->batched &&
      loaded->batcher().gathers() && EventLoop::current() != nullptr) {
    return infer_gathered(call, std::move(loaded), std::move(accepted), std::move(checked),
                          decoded);
  }
  DynamicBatcher::Submitted pending;
  try {
    pending = loaded->submit_cancellable(std::move(checked.inputs), std::move(checked.outputs));
  } catch (const QueueFull&) {
    throw queue_full(path.model);
  }
  if (pending.ran_here) return answer_infer(*accepted, std::move(*pending.ran_here), s, info);
  if (pending.result.wait_until(accepted->start_by) != std::future_status::ready) {
    // Still queued: taken out and refused (it never runs). Already running: its batch ends
    // when the backend returns, and its data must stay valid until then.
    if (loaded->cancel(pending.ticket)) {
      return answer_infer(*accepted, RequestResult{Failure{kQueueDeadlineCode, ""}}, s, info);
    }
  }
  return answer_infer(*accepted, pending.result.get(), s, info);
}

}  // namespace mg::gateway
