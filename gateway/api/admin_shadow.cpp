// A model's shadow (docs/evaluation.md "Shadow"): a candidate version receiving copies of
// a share of an alias's requests, its answers compared with the served ones and dropped.
#include <boost/json.hpp>
#include <cmath>

#include "gateway/api/admin_routes.h"
#include "gateway/api/errors.h"
#include "gateway/api/json_body.h"
#include "gateway/serving/model_repository.h"
#include "registry/registry.h"

namespace mg::gateway {
namespace {

namespace json = boost::json;

json::value shadow_json(const std::optional<registry::Shadow>& shadow) {
  if (!shadow) return nullptr;
  return json::object{
      {"alias", shadow->alias}, {"version", shadow->version}, {"share", shadow->share}};
}

// The comparison so far: {"requests", "errors", "dropped", "rows", "agreement", "max_abs_diff",
// "latency_ms": {"p50", "p99"}} — agreement is the share of rows whose top-1 class matched.
json::object comparison_json(const ShadowStats::Snapshot& c) {
  return json::object{{"requests", c.requests},
                      {"errors", c.errors},
                      {"dropped", c.dropped},
                      {"rows", c.rows},
                      {"agreement", c.rows == 0 ? json::value(nullptr)
                                                : json::value(static_cast<double>(c.agreed) /
                                                              static_cast<double>(c.rows))},
                      {"max_abs_diff", std::isfinite(c.max_abs_diff) ? json::value(c.max_abs_diff)
                                                                     : json::value(nullptr)},
                      {"latency_ms", json::object{{"p50", c.p50_ms}, {"p99", c.p99_ms}}}};
}

std::optional<registry::Shadow> shadow_of(Services& s, const std::string& model) {
  const auto record = s.registry.find_model(model);
  return record ? registry::Shadow::from_config(record->config_json) : std::nullopt;
}

}  // namespace

HttpResponse show_shadow(const AdminCall& call) {
  Services& s = call.services;
  const std::string model = call.params.str("model");
  require_model(s, model);
  const auto shadow = shadow_of(s, model);
  json::object out{{"model", model}, {"shadow", shadow_json(shadow)}};
  const auto candidate = shadow ? s.models.find(model, shadow->version) : nullptr;
  out["comparison"] =
      candidate ? json::value(comparison_json(candidate->shadow_stats()->snapshot())) : nullptr;
  return json_response(out);
}

// {"version": N, "share": 0..1, "alias"?: "default"}: loads N, then starts copying.
HttpResponse set_shadow(const AdminCall& call) {
  Services& s = call.services;
  const std::string model = call.params.str("model");
  require_model(s, model);
  const json::object body = parse_object(call.request.body);
  const json::value* version = body.if_contains("version");
  if (version == nullptr || !version->is_int64()) {
    throw bad_request("the body must be {\"version\": N, \"share\": 0..1}");
  }
  registry::Shadow shadow;
  shadow.version = existing_version(s, model, std::to_string(version->as_int64()));
  shadow.share = number_field(body, "share", 0, 1);
  if (shadow.share <= 0) throw bad_request("'share' must be above 0 and at most 1");
  shadow.alias = string_field(body, "alias", "default");
  if (!s.registry.resolve(model, shadow.alias)) {
    throw ApiError(404, "version_not_found",
                   "model '" + model + "' has no alias '" + shadow.alias + "'");
  }
  load_or_refuse(s, model, shadow.version, call.caller.key_id);
  s.registry.set_model_section(model, "shadow", json::serialize(shadow_json(shadow)),
                               call.caller.key_id);
  return json_response(json::object{{"model", model}, {"shadow", shadow_json(shadow)}});
}

// Stops the copies; the candidate is unloaded unless an alias serves it.
HttpResponse remove_shadow(const AdminCall& call) {
  Services& s = call.services;
  const std::string model = call.params.str("model");
  require_model(s, model);
  const auto shadow = shadow_of(s, model);
  s.registry.set_model_section(model, "shadow", "", call.caller.key_id);
  if (shadow) {
    const registry::Catalog::Entry* entry = s.registry.snapshot().find(model);
    if (entry == nullptr || !entry->aliased(shadow->version)) {
      s.models.unload(model, shadow->version, call.caller.key_id);
    }
  }
  return json_response(json::object{{"model", model}, {"shadow", nullptr}});
}

// Keeps the comparison so far as a report of the candidate (docs/evaluation.md "Shadow
// reports"): listed with the model's evaluation reports, dataset "" and kind "shadow".
HttpResponse report_shadow(const AdminCall& call) {
  Services& s = call.services;
  const std::string model = call.params.str("model");
  require_model(s, model);
  const auto shadow = shadow_of(s, model);
  if (!shadow) throw ApiError(409, "conflict", "model '" + model + "' has no shadow");
  const auto candidate = s.models.find(model, shadow->version);
  if (candidate == nullptr) {
    throw ApiError(409, "conflict",
                   "the shadow version " + std::to_string(shadow->version) + " of model '" + model +
                       "' is not loaded");
  }
  const ShadowStats::Snapshot comparison = candidate->shadow_stats()->snapshot();
  if (comparison.requests == 0) {
    throw ApiError(409, "conflict",
                   "the shadow of model '" + model + "' has compared no request yet");
  }
  const int64_t served = s.registry.resolve(model, shadow->alias).value_or(0);
  registry::EvaluationReport report;
  report.model = model;
  report.version = shadow->version;
  report.baseline_version = served;
  report.report_json = json::serialize(
      json::object{{"kind", "shadow"},
                   {"shadow", shadow_json(shadow)},
                   {"figures", comparison_json(comparison)},
                   {"baseline", served == 0 ? json::value(nullptr)
                                            : json::value(json::object{{"version", served}})},
                   {"verdict", "no_gate"},
                   {"failures", json::array{}}});
  report = s.registry.add_report(std::move(report), call.caller.key_id, "version.shadow_report");
  HttpResponse response = json_response(report_json(report));
  response.status = 201;
  return response;
}

}  // namespace mg::gateway
