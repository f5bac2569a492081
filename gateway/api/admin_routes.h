#pragma once

// The admin API's handlers, one per route (admin_api.cpp holds the table), split by
// resource: admin_models.cpp (models, versions, aliases, uploads), admin_tenants.cpp
// (tenants, keys), admin_operations.cpp (signers, backends, usage, audit),
// admin_evaluation.cpp (datasets, evaluations, the promotion gate), admin_canary.cpp (the
// automatic rollback's thresholds), admin_shadow.cpp (the shadow).

#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/api/route_table.h"
#include "gateway/api/router.h"
#include "gateway/auth/authenticator.h"
#include "gateway/http/http_types.h"
#include "registry/records.h"
#include "registry/registry_error.h"

namespace mg::gateway {

class ApiError;

// One admin request, authenticated with the admin scope.
struct AdminCall {
  const HttpRequest& request;
  const PathParams& params;
  const Principal& caller;
  Services& services;
};

// Registry refusals in the error contract. Messages name models, versions and aliases,
// never files: kIo and kDatabase details stay in the server's log.
ApiError api_error(const registry::RegistryError& e);
// A positive version number; 400 otherwise.
int64_t parse_version(std::string_view text);
// 404 model_not_found / version_not_found.
void require_model(Services& s, const std::string& model);
int64_t existing_version(Services& s, const std::string& model, std::string_view text);
// Loads a version; a load that fails for the model's own reasons (a bad file, an
// unsupported operator, a corrupt artifact, a missing signature) is a 400 naming why.
void load_or_refuse(Services& s, const std::string& model, int64_t version,
                    const std::string& actor);

// The model's promotion gate (docs/evaluation.md) applied to moving its default alias to
// `version`: nullopt when the move may go on (no gate, a passing report — made now when
// there is none on the gate's dataset against the current default — or `force`, which
// audits the failures it overrides), else the 409 gate_failed answer with the failures
// and the report.
std::optional<HttpResponse> check_gate(Services& s, const std::string& model, int64_t version,
                                       bool force, const std::string& actor);

// Each version's newest evaluation report, summed up for `model show`: {"report",
// "dataset", "verdict", "accuracy" (when labelled), "p99_ms", "created_at"}.
std::map<int64_t, boost::json::object> latest_evaluations(Services& s, const std::string& model);

// The upload of a new version (model named) or of an artifact a version will name as one
// of its files (model empty), streamed (open_upload) or buffered (upload_version,
// upload_artifact).
std::unique_ptr<BodySink> make_upload(const HttpRequest& head, const std::string& model,
                                      const Principal& caller, Services& s,
                                      std::optional<SignedParts> signature);

// admin_models.cpp
HttpResponse list_models(const AdminCall& call);
HttpResponse create_model(const AdminCall& call);
HttpResponse show_model(const AdminCall& call);
HttpResponse list_versions(const AdminCall& call);
HttpResponse upload_version(const AdminCall& call);
HttpResponse upload_artifact(const AdminCall& call);
HttpResponse show_version(const AdminCall& call);
HttpResponse load_version(const AdminCall& call);
HttpResponse unload_version(const AdminCall& call);
HttpResponse retire_version(const AdminCall& call);
HttpResponse list_aliases(const AdminCall& call);
HttpResponse set_alias(const AdminCall& call);
HttpResponse remove_alias(const AdminCall& call);
HttpResponse rollback_alias(const AdminCall& call);
// admin_evaluation.cpp
HttpResponse list_datasets(const AdminCall& call);
HttpResponse show_dataset(const AdminCall& call);
HttpResponse register_dataset(const AdminCall& call);
HttpResponse remove_dataset(const AdminCall& call);
HttpResponse evaluate_version(const AdminCall& call);
HttpResponse list_reports(const AdminCall& call);
HttpResponse show_report(const AdminCall& call);
HttpResponse set_gate(const AdminCall& call);
HttpResponse remove_gate(const AdminCall& call);
// A stored report as the API shows it.
boost::json::object report_json(const registry::EvaluationReport& report);
// admin_canary.cpp
HttpResponse set_canary(const AdminCall& call);
HttpResponse remove_canary(const AdminCall& call);
// admin_shadow.cpp
HttpResponse show_shadow(const AdminCall& call);
HttpResponse set_shadow(const AdminCall& call);
HttpResponse remove_shadow(const AdminCall& call);
HttpResponse report_shadow(const AdminCall& call);
// admin_tenants.cpp
HttpResponse list_tenants(const AdminCall& call);
HttpResponse create_tenant(const AdminCall& call);
HttpResponse list_keys(const AdminCall& call);
HttpResponse create_key(const AdminCall& call);
HttpResponse revoke_key(const AdminCall& call);
// admin_operations.cpp
HttpResponse list_signers(const AdminCall& call);
HttpResponse add_signer(const AdminCall& call);
HttpResponse remove_signer(const AdminCall& call);
HttpResponse list_backends(const AdminCall& call);
HttpResponse usage_report(const AdminCall& call);
HttpResponse audit_log(const AdminCall& call);

}  // namespace mg::gateway
