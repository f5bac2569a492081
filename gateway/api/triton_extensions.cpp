#include "gateway/api/triton_extensions.h"

#include <algorithm>
#include <boost/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "gateway/api/admin_routes.h"
#include "gateway/api/errors.h"
#include "gateway/api/json_body.h"
#include "gateway/auth/authenticator.h"
#include "gateway/plugin_host/dtype.h"
#include "gateway/serving/model_repository.h"
#include "registry/registry.h"

namespace mg::gateway {

namespace json = boost::json;

namespace {

// Triton's config names a tensor type TYPE_<KServe datatype>, except BYTES (TYPE_STRING).
std::string config_type(DType dtype) {
  const std::string_view name = dtype_name(dtype);
  return name == "BYTES" ? "TYPE_STRING" : "TYPE_" + std::string(name);
}

// Inputs or outputs as Triton's config lists them: dims without the batch dimension when
// the model batches (max_batch_size > 0).
json::array config_tensors(const std::vector<TensorDesc>& tensors, bool batched) {
  json::array list;
  for (const auto& t : tensors) {
    json::array dims;
    for (std::size_t d = batched ? 1 : 0; d < t.shape.size(); ++d) dims.emplace_back(t.shape[d]);
    list.emplace_back(json::object{
        {"name", t.name}, {"data_type", config_type(t.dtype)}, {"dims", std::move(dims)}});
  }
  return list;
}

json::object duration(const VersionStats::Duration& d) {
  return json::object{{"count", d.count}, {"ns", d.ns}};
}

json::object version_stats(const LoadedVersion& loaded) {
  const VersionStats::Snapshot s = loaded.stats()->snapshot();
  return json::object{
      {"name", loaded.model()},
      {"version", std::to_string(loaded.version())},
      {"last_inference", s.last_inference_ms},
      {"inference_count", s.inference_count},
      {"execution_count", s.execution_count},
      {"inference_stats", json::object{{"success", duration(s.success)},
                                       {"fail", duration(s.fail)},
                                       {"queue", duration(s.queue)},
                                       {"compute_input", duration(s.compute_input)},
                                       {"compute_infer", duration(s.compute_infer)},
                                       {"compute_output", duration(s.compute_output)}}},
      {"batch_stats", json::array{}}};
}

// Every loaded version of a model, in version order.
std::vector<std::shared_ptr<LoadedVersion>> loaded_versions(Services& s,
                                                            const registry::Catalog::Entry& entry) {
  std::vector<std::shared_ptr<LoadedVersion>> loaded;
  for (const auto& [number, version] : entry.versions) {
    if (auto handle = s.models.find(entry.model.name, number)) loaded.push_back(std::move(handle));
  }
  return loaded;
}

// A model's entry in the registry's catalogue: 404 model_not_found when there is none.
const registry::Catalog::Entry& catalog_entry(Services& s, const std::string& model) {
  const auto* entry = s.registry.snapshot().find(model);
  if (entry == nullptr) throw ApiError(404, "model_not_found", "no model '" + model + "'");
  return *entry;
}

// The catalogue's models the caller's key may use, by name.
std::vector<const registry::Catalog::Entry*> visible_models(const registry::Catalog& catalog,
                                                            const Principal* caller) {
  std::vector<const registry::Catalog::Entry*> models;
  for (const auto& [name, entry] : catalog.models) {
    if (caller == nullptr || Authenticator::may_use_model(*caller, name)) models.push_back(&entry);
  }
  std::sort(models.begin(), models.end(),
            [](const auto* a, const auto* b) { return a->model.name < b->model.name; });
  return models;
}

}  // namespace

HttpResponse model_config(DataCall& call) {
  Services& s = call.services;
  const ModelRef path = model_ref(call.params);
  int64_t version = resolve_version(s, path);
  const auto loaded = ready_version(s, path, version);
  const ModelMetadata& metadata = loaded->metadata();
  const bool batched = metadata.max_batch_size > 0;
  const Scheduling& scheduling = loaded->scheduling();
  json::object config{{"name", path.model},
                      {"version", std::to_string(version)},
                      {"backend", loaded->backend()},
                      {"max_batch_size", metadata.max_batch_size},
                      {"input", config_tensors(metadata.inputs, batched)},
                      {"output", config_tensors(metadata.outputs, batched)},
                      {"instance_group", json::array{json::object{{"name", path.model},
                                                                  {"count", scheduling.instances},
                                                                  {"kind", "KIND_CPU"}}}}};
  if (batched) {
    json::array preferred;
    for (int64_t size : scheduling.batcher.preferred_batch_sizes) preferred.emplace_back(size);
    config["dynamic_batching"] = json::object{
        {"max_queue_delay_microseconds", scheduling.batcher.max_queue_delay.count()},
        {"preferred_batch_size", std::move(preferred)},
        {"default_queue_policy", json::object{{"max_queue_size", scheduling.batcher.max_queue}}}};
  }
  // The model's own config as stored (mgctl model create --config), whatever Triton calls it.
  if (const auto record = s.registry.find_model(path.model)) {
    boost::system::error_code ec;
    json::value own = json::parse(record->config_json, ec);
    if (!ec) config["modelgate_config"] = std::move(own);
  }
  return json_response(config);
}

HttpResponse model_stats(DataCall& call) {
  Services& s = call.services;
  const registry::Catalog& catalog = s.registry.snapshot();
  json::array stats;
  if (call.params["model"].empty()) {
    for (const auto* entry : visible_models(catalog, call.caller)) {
      for (const auto& loaded : loaded_versions(s, *entry)) stats.push_back(version_stats(*loaded));
    }
  } else if (call.params["version"].empty()) {
    for (const auto& loaded : loaded_versions(s, catalog_entry(s, call.params.str("model")))) {
      stats.push_back(version_stats(*loaded));
    }
  } else {
    const ModelRef path = model_ref(call.params);
    int64_t version = resolve_version(s, path);
    stats.push_back(version_stats(*ready_version(s, path, version)));
  }
  return json_response(json::object{{"model_stats", std::move(stats)}});
}

HttpResponse repository_index(DataCall& call) {
  Services& s = call.services;
  bool ready_only = false;
  if (!call.request.body.empty()) {
    const json::object body = parse_object(call.request.body);
    if (const auto* ready = body.if_contains("ready")) {
      if (!ready->is_bool()) throw bad_request("\"ready\" must be true or false");
      ready_only = ready->as_bool();
    }
  }
  json::array index;
  for (const auto* entry : visible_models(s.registry.snapshot(), call.caller)) {
    for (const auto& [number, version] : entry->versions) {
      if (version.state == registry::VersionState::kRetired) continue;
      const auto loaded = s.models.find(entry->model.name, number);
      const bool ready = loaded != nullptr && loaded->ready();
      if (ready_only && !ready) continue;
      json::object row{{"name", entry->model.name},
                       {"version", std::to_string(number)},
                       {"state", ready ? "READY" : "UNAVAILABLE"}};
      if (!ready) {
        row["reason"] = version.state_reason.empty()
                            ? std::string(registry::state_name(version.state))
                            : version.state_reason;
      }
      index.push_back(std::move(row));
    }
  }
  return json_response(index);
}

HttpResponse repository_load(DataCall& call) {
  Services& s = call.services;
  const std::string model = call.params.str("model");
  require_model(s, model);
  std::set<int64_t> aliased;
  for (const auto& alias : s.registry.list_aliases(model)) {
    aliased.insert(alias.version);
    if (alias.split) {
      for (const auto& w : alias.split->versions) aliased.insert(w.version);
    }
  }
  json::array loaded;
  for (int64_t version : aliased) {
    if (s.models.find(model, version) == nullptr) {
      load_or_refuse(s, model, version, call.info.key_id);
    }
    loaded.emplace_back(std::to_string(version));
  }
  if (loaded.empty()) {
    throw ApiError(
        409, "conflict",
        "model '" + model + "' has no aliased version to load; load a version with the admin API");
  }
  return json_response(json::object{{"name", model}, {"loaded", std::move(loaded)}});
}

HttpResponse repository_unload(DataCall& call) {
  Services& s = call.services;
  const std::string model = call.params.str("model");
  json::array unloaded;
  for (const auto& loaded : loaded_versions(s, catalog_entry(s, model))) {
    s.models.unload(model, loaded->version(), call.info.key_id);
    unloaded.emplace_back(std::to_string(loaded->version()));
  }
  return json_response(json::object{{"name", model}, {"unloaded", std::move(unloaded)}});
}

}  // namespace mg::gateway
