// Evaluation before promotion (docs/evaluation.md): datasets, evaluations and their
// reports, and the gate a promotion to the default alias must pass.
#include <boost/json.hpp>
#include <charconv>

#include "common/log.h"
#include "gateway/api/admin_routes.h"
#include "gateway/api/errors.h"
#include "gateway/api/evaluation_run.h"
#include "gateway/api/json_body.h"
#include "gateway/api/query.h"
#include "gateway/evaluation/gate.h"
#include "gateway/serving/model_repository.h"
#include "registry/names.h"
#include "registry/registry.h"
#include "registry/sha256.h"

namespace mg::gateway {
namespace {

namespace json = boost::json;
using registry::RegistryError;

json::object dataset_json(const registry::DatasetEntry& d) {
  return json::object{
      {"name", d.name},       {"artifact", d.artifact},     {"description", d.description},
      {"records", d.records}, {"created_at", d.created_at}, {"updated_at", d.updated_at}};
}

registry::DatasetEntry existing_dataset(Services& s, const std::string& name) {
  auto dataset = s.registry.find_dataset(name);
  if (!dataset) throw ApiError(404, "not_found", "no dataset '" + name + "' (mgctl dataset list)");
  return *dataset;
}

// A dataset's content, verified against its digest, and its signature checked again
// when the server requires signatures (as a model's at every load).
std::vector<std::byte> dataset_bytes(Services& s, const registry::DatasetEntry& dataset) {
  if (s.models.require_signature() && !s.registry.verified_signer(dataset.artifact)) {
    throw bad_request("dataset '" + dataset.name +
                      "' has no signature from a trusted signer, which this server requires");
  }
  s.registry.fetch_artifact(dataset.artifact);
  return s.registry.artifacts().read(dataset.artifact);
}

// The records as text, viewed (a dataset may be hundreds of megabytes: never copied).
std::string_view text_of(const std::vector<std::byte>& bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// The model's gate; a malformed one (the config is checked when set) counts as none.
std::optional<Gate> gate_of_model(Services& s, const std::string& model) {
  const auto record = s.registry.find_model(model);
  if (!record) return std::nullopt;
  try {
    return gate_of(record->config_json);
  } catch (const std::invalid_argument& e) {
    log(LogLevel::kWarn, "model " + model + ": ignoring its gate: " + e.what());
    return std::nullopt;
  }
}

// Whether an alias (or the model's shadow) reaches the version now.
bool aliased(Services& s, const std::string& model, int64_t version) {
  const registry::Catalog::Entry* entry = s.registry.snapshot().find(model);
  return entry != nullptr && entry->aliased(version);
}

// A version's figures on a dataset, through the serving path. A version that is not
// loaded is loaded aside for the run (no alias moves) and unloaded after it.
json::object figures_of(Services& s, const std::string& model, int64_t version,
                        std::string_view dataset, uint32_t top_k, const std::string& actor) {
  std::shared_ptr<LoadedVersion> loaded = s.models.find(model, version);
  const bool loaded_here = loaded == nullptr;
  if (loaded_here) {
    load_or_refuse(s, model, version, actor);
    loaded = s.models.find(model, version);
    if (!loaded) throw ApiError(503, "model_not_ready", "the version did not stay loaded");
  }
  struct UnloadAfter {
    Services& s;
    const std::string& model;
    int64_t version;
    const std::string& actor;
    bool armed;
    ~UnloadAfter() {
      if (!armed || aliased(s, model, version)) return;
      try {
        s.models.unload(model, version, actor);
      } catch (const std::exception& e) {
        log(LogLevel::kWarn, "after evaluating " + model + "/" + std::to_string(version) +
                                 ", unloading it failed: " + e.what());
      }
    }
  } unload_after{s, model, version, actor, loaded_here};
  return figures_json(evaluate_dataset(*loaded, dataset, top_k, s.max_json_bytes));
}

}  // namespace

json::object report_json(const registry::EvaluationReport& r) {
  boost::system::error_code ec;
  json::value stored = json::parse(r.report_json, ec);
  json::object out = !ec && stored.is_object() ? stored.as_object() : json::object{};
  out["id"] = r.id;
  out["model"] = r.model;
  out["version"] = r.version;
  out["dataset"] = json::object{{"name", r.dataset}, {"artifact", r.dataset_artifact}};
  out["passed"] = r.passed;
  out["actor"] = r.actor;
  out["created_at"] = r.created_at;
  return out;
}

namespace {

const json::object* object_at(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_object() ? &v->as_object() : nullptr;
}

// The gate's failures for a stored report, under the gate as it is now.
std::vector<std::string> failures_of(const Gate& gate, const registry::EvaluationReport& r) {
  const json::object shown = report_json(r);
  const json::object* figures = object_at(shown, "figures");
  const json::object* baseline = object_at(shown, "baseline");
  const json::object* baseline_figures = baseline ? object_at(*baseline, "figures") : nullptr;
  if (figures == nullptr) return {"the report holds no figures"};
  return gate_failures(gate, *figures, baseline_figures);
}

// The default version to compare with: 0 when there is none or it is `version` itself.
int64_t baseline_of(Services& s, const std::string& model, int64_t version) {
  const auto current = s.registry.resolve(model, "default");
  return current && *current != version ? *current : 0;
}

registry::EvaluationReport evaluate(Services& s, const std::string& model, int64_t version,
                                    const registry::DatasetEntry& dataset, uint32_t top_k,
                                    const std::string& actor) {
  const std::vector<std::byte> content = dataset_bytes(s, dataset);
  const std::string_view bytes = text_of(content);
  const std::optional<Gate> gate = gate_of_model(s, model);
  const int64_t baseline = baseline_of(s, model, version);
  json::object stored{{"figures", figures_of(s, model, version, bytes, top_k, actor)}};
  stored["baseline"] = baseline == 0
                           ? json::value(nullptr)
                           : json::value(json::object{
                                 {"version", baseline},
                                 {"figures", figures_of(s, model, baseline, bytes, top_k, actor)}});
  const bool judged = gate && gate->dataset == dataset.name;
  std::vector<std::string> failures;
  if (judged) {
    const json::object* baseline_figures =
        baseline == 0 ? nullptr : object_at(stored["baseline"].as_object(), "figures");
    failures = gate_failures(*gate, stored["figures"].as_object(), baseline_figures);
  }
  json::array failure_list(failures.begin(), failures.end());
  stored["gate"] = judged ? json::value(gate_json(*gate)) : json::value(nullptr);
  stored["verdict"] = !judged ? "no_gate" : failures.empty() ? "pass" : "fail";
  stored["failures"] = std::move(failure_list);
  registry::EvaluationReport report;
  report.model = model;
  report.version = version;
  report.dataset = dataset.name;
  report.dataset_artifact = dataset.artifact;
  report.baseline_version = baseline;
  report.passed = judged && failures.empty();
  report.report_json = json::serialize(stored);
  return s.registry.add_report(std::move(report), actor);
}

uint32_t top_k_field(const json::object& body, uint32_t fallback) {
  return static_cast<uint32_t>(number_field(body, "top_k", fallback, 65536));
}

}  // namespace

std::optional<HttpResponse> check_gate(Services& s, const std::string& model, int64_t version,
                                       bool force, const std::string& actor) {
  const std::optional<Gate> gate = gate_of_model(s, model);
  if (!gate) return std::nullopt;
  std::vector<std::string> failures;
  std::optional<registry::EvaluationReport> report;
  const auto dataset = s.registry.find_dataset(gate->dataset);
  if (!dataset) {
    failures.push_back("the gate's dataset '" + gate->dataset + "' does not exist");
  } else {
    // The newest report on the dataset's current content, against the current default.
    const int64_t baseline = baseline_of(s, model, version);
    for (auto& r : s.registry.list_reports(model, version)) {
      if (r.dataset_artifact == dataset->artifact && r.baseline_version == baseline) {
        report = std::move(r);
        break;
      }
    }
    if (!report && !force) report = evaluate(s, model, version, *dataset, gate->top_k, actor);
    failures = report ? failures_of(*gate, *report)
                      : std::vector<std::string>{"no evaluation on dataset '" + gate->dataset +
                                                 "' against the current default version"};
  }
  if (failures.empty()) return std::nullopt;
  json::array failure_list(failures.begin(), failures.end());
  if (force) {
    s.registry.audit_forced_promotion(
        model, version,
        json::serialize(json::object{{"failures", failure_list},
                                     {"report", report ? json::value(report->id) : nullptr},
                                     {"gate", gate_json(*gate)}}),
        actor);
    log(LogLevel::kWarn, "version " + std::to_string(version) + " of model " + model +
                             " promoted past its gate by " + actor + " (--force)");
    return std::nullopt;
  }
  std::string message =
      "version " + std::to_string(version) + " of model '" + model + "' does not pass its gate: ";
  for (std::size_t i = 0; i < failures.size(); ++i) message += (i ? "; " : "") + failures[i];
  json::object body{{"error", message + " (promote --force overrides, audited)"},
                    {"code", "gate_failed"},
                    {"failures", failure_list}};
  if (report) body["report"] = report_json(*report);
  return json_response(body, 409);
}

std::map<int64_t, json::object> latest_evaluations(Services& s, const std::string& model) {
  std::map<int64_t, json::object> latest;
  for (const auto& r : s.registry.list_reports(model, 0, 1000)) {
    if (r.dataset.empty()) continue;            // a shadow's report, not an evaluation
    if (latest.count(r.version) > 0) continue;  // newest first: the first one is kept
    const json::object shown = report_json(r);
    json::object summary{{"report", r.id},
                         {"dataset", r.dataset},
                         {"verdict", shown.contains("verdict") ? shown.at("verdict") : nullptr},
                         {"created_at", r.created_at}};
    if (const json::object* figures = object_at(shown, "figures")) {
      if (figures->contains("accuracy")) summary["accuracy"] = figures->at("accuracy");
      if (const json::object* latency = object_at(*figures, "latency_ms")) {
        if (latency->contains("p99")) summary["p99_ms"] = latency->at("p99");
      }
    }
    latest.emplace(r.version, std::move(summary));
  }
  return latest;
}

HttpResponse list_datasets(const AdminCall& call) {
  json::array list;
  for (const auto& d : call.services.registry.list_datasets()) list.emplace_back(dataset_json(d));
  return json_response(json::object{{"datasets", list}});
}

HttpResponse show_dataset(const AdminCall& call) {
  return json_response(dataset_json(existing_dataset(call.services, call.params.str("name"))));
}

// {"name", "artifact": sha256 of a file uploaded with POST /admin/v1/artifacts,
// "description"}: the file is read whole and checked as records before it is named.
HttpResponse register_dataset(const AdminCall& call) {
  Services& s = call.services;
  const json::object body = parse_object(call.request.body);
  const std::string name = string_field(body, "name", "");
  const std::string artifact = string_field(body, "artifact", "");
  try {
    registry::validate_name("dataset", name);
  } catch (const RegistryError& e) {
    throw bad_request(e.what());
  }
  if (!registry::is_sha256_hex(artifact)) {
    throw bad_request("'artifact' must be the SHA-256 (64 lowercase hex) of an uploaded file");
  }
  if (!s.registry.artifacts().contains(artifact) && !s.registry.clustered()) {
    throw ApiError(404, "not_found", "no artifact " + artifact + "; upload the file first");
  }
  registry::DatasetEntry candidate{name, artifact};
  DatasetSummary summary;
  try {
    summary = summarize_dataset(text_of(dataset_bytes(s, candidate)));
  } catch (const DatasetError& e) {
    throw bad_request("dataset '" + name + "': " + e.what());
  }
  const auto entry =
      s.registry.put_dataset(name, artifact, string_field(body, "description", ""),
                             static_cast<int64_t>(summary.records), call.caller.key_id);
  json::object shown = dataset_json(entry);
  shown["labelled_rows"] = summary.labelled_rows;
  shown["target_values"] = summary.target_values;
  return json_response(shown, 201);
}

HttpResponse remove_dataset(const AdminCall& call) {
  const std::string name = call.params.str("name");
  call.services.registry.remove_dataset(name, call.caller.key_id);
  return json_response(json::object{{"name", name}, {"removed", true}});
}

// {"dataset": name (default: the gate's), "top_k": K (default: the gate's, else 5)}
HttpResponse evaluate_version(const AdminCall& call) {
  Services& s = call.services;
  const std::string model = call.params.str("model");
  const int64_t version = existing_version(s, model, call.params["version"]);
  const json::object body = parse_object(call.request.body.empty() ? "{}" : call.request.body);
  const std::optional<Gate> gate = gate_of_model(s, model);
  const std::string dataset = string_field(body, "dataset", gate ? gate->dataset : "");
  if (dataset.empty()) {
    throw bad_request("name the dataset to evaluate on (the model has no gate naming one)");
  }
  const uint32_t top_k = top_k_field(body, gate ? gate->top_k : 5);
  if (top_k == 0) throw bad_request("'top_k' must be at least 1");
  const auto report =
      evaluate(s, model, version, existing_dataset(s, dataset), top_k, call.caller.key_id);
  return json_response(report_json(report), 201);
}

// ?version=N: of one version only.
HttpResponse list_reports(const AdminCall& call) {
  Services& s = call.services;
  const std::string model = call.params.str("model");
  require_model(s, model);
  const std::optional<std::string> version = query_param(call.request.target, "version");
  json::array list;
  for (const auto& r : s.registry.list_reports(model, version ? parse_version(*version) : 0)) {
    list.emplace_back(report_json(r));
  }
  return json_response(json::object{{"reports", list}});
}

HttpResponse show_report(const AdminCall& call) {
  Services& s = call.services;
  const std::string model = call.params.str("model");
  require_model(s, model);
  int64_t id = 0;
  const std::string_view text = call.params["report"];
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size()) {
    throw bad_request("'" + std::string(text.substr(0, 40)) + "' is not a report id");
  }
  const auto report = s.registry.find_report(model, id);
  if (!report) throw ApiError(404, "not_found", "model '" + model + "' has no such report");
  return json_response(report_json(*report));
}

// The gate object itself: {"dataset", "min_accuracy", "max_accuracy_drop", "max_p99_ms",
// "top_k"}.
HttpResponse set_gate(const AdminCall& call) {
  Services& s = call.services;
  const std::string model = call.params.str("model");
  require_model(s, model);
  const json::object body = parse_object(call.request.body);
  std::optional<Gate> gate;
  try {
    gate = gate_of(json::serialize(json::object{{"gate", body}}));
  } catch (const std::invalid_argument& e) {
    throw bad_request(e.what());
  }
  existing_dataset(s, gate->dataset);
  const std::string text = json::serialize(gate_json(*gate));
  s.registry.set_model_section(model, "gate", text, call.caller.key_id);
  return json_response(json::object{{"model", model}, {"gate", json::parse(text)}});
}

HttpResponse remove_gate(const AdminCall& call) {
  Services& s = call.services;
  const std::string model = call.params.str("model");
  require_model(s, model);
  s.registry.set_model_section(model, "gate", "", call.caller.key_id);
  return json_response(json::object{{"model", model}, {"gate", nullptr}});
}

}  // namespace mg::gateway
