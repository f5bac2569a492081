#include "gateway/api/admin_api.h"

#include <charconv>

#include "gateway/api/admin_audit.h"
#include "gateway/api/admin_routes.h"
#include "gateway/api/errors.h"
#include "registry/registry.h"

namespace mg::gateway {
namespace {

using registry::RegistryError;
using AdminHandler = HttpResponse (*)(const AdminCall&);

// Every admin endpoint. docs/admin-api.openapi.yaml describes the same set, which the test
// command checks (tests/docs/check_openapi.py).
const RouteTable<AdminHandler>& admin_routes() {
  static const RouteTable<AdminHandler> table{
      {{"GET", "/admin/v1/models"}, list_models},
      {{"POST", "/admin/v1/models"}, create_model},
      {{"GET", "/admin/v1/models/{model}"}, show_model},
      {{"GET", "/admin/v1/models/{model}/versions"}, list_versions},
      {{"POST", "/admin/v1/models/{model}/versions"}, upload_version},
      {{"POST", "/admin/v1/artifacts"}, upload_artifact},
      {{"GET", "/admin/v1/models/{model}/versions/{version}"}, show_version},
      {{"POST", "/admin/v1/models/{model}/versions/{version}/load"}, load_version},
      {{"POST", "/admin/v1/models/{model}/versions/{version}/unload"}, unload_version},
      {{"POST", "/admin/v1/models/{model}/versions/{version}/retire"}, retire_version},
      {{"GET", "/admin/v1/models/{model}/aliases"}, list_aliases},
      {{"PUT", "/admin/v1/models/{model}/aliases/{alias}"}, set_alias},
      {{"DELETE", "/admin/v1/models/{model}/aliases/{alias}"}, remove_alias},
      {{"POST", "/admin/v1/models/{model}/aliases/{alias}/rollback"}, rollback_alias},
      {{"PUT", "/admin/v1/models/{model}/gate"}, set_gate},
      {{"GET", "/admin/v1/models/{model}/shadow"}, show_shadow},
      {{"PUT", "/admin/v1/models/{model}/shadow"}, set_shadow},
      {{"DELETE", "/admin/v1/models/{model}/shadow"}, remove_shadow},
      {{"POST", "/admin/v1/models/{model}/shadow/report"}, report_shadow},
      {{"PUT", "/admin/v1/models/{model}/canary"}, set_canary},
      {{"DELETE", "/admin/v1/models/{model}/canary"}, remove_canary},
      {{"DELETE", "/admin/v1/models/{model}/gate"}, remove_gate},
      {{"POST", "/admin/v1/models/{model}/versions/{version}/evaluate"}, evaluate_version},
      {{"GET", "/admin/v1/models/{model}/reports"}, list_reports},
      {{"GET", "/admin/v1/models/{model}/reports/{report}"}, show_report},
      {{"GET", "/admin/v1/datasets"}, list_datasets},
      {{"POST", "/admin/v1/datasets"}, register_dataset},
      {{"GET", "/admin/v1/datasets/{name}"}, show_dataset},
      {{"DELETE", "/admin/v1/datasets/{name}"}, remove_dataset},
      {{"GET", "/admin/v1/tenants"}, list_tenants},
      {{"POST", "/admin/v1/tenants"}, create_tenant},
      {{"GET", "/admin/v1/keys"}, list_keys},
      {{"POST", "/admin/v1/keys"}, create_key},
      {{"DELETE", "/admin/v1/keys/{key_id}"}, revoke_key},
      {{"GET", "/admin/v1/signers"}, list_signers},
      {{"POST", "/admin/v1/signers"}, add_signer},
      {{"DELETE", "/admin/v1/signers/{name}"}, remove_signer},
      {{"GET", "/admin/v1/backends"}, list_backends},
      {{"GET", "/admin/v1/usage"}, usage_report},
      {{"GET", "/admin/v1/audit"}, audit_log},
  };
  return table;
}

// A version's model file, or an artifact a version will carry as a file: both streamed.
bool is_upload(const HttpRequest& request, const PathParts& parts) {
  static const PathPattern uploads("/admin/v1/models/{model}/versions");
  static const PathPattern artifacts("/admin/v1/artifacts");
  PathParams ignored;
  return request.method == "POST" &&
         (uploads.match(parts, ignored) || artifacts.match(parts, ignored));
}

}  // namespace

// Registry refusals in the error contract. Messages name models, versions and aliases,
// never files: kIo and kDatabase details stay in the server's log.
ApiError api_error(const RegistryError& e) {
  using Code = RegistryError::Code;
  switch (e.code()) {
    case Code::kInvalidArgument:
    case Code::kDigestMismatch:
      return bad_request(e.what());
    case Code::kModelNotFound:
      return ApiError(404, "model_not_found", e.what());
    case Code::kNotFound:
      return ApiError(404, "not_found", e.what());
    case Code::kAlreadyExists:
    case Code::kConflict:
      return ApiError(409, "conflict", e.what());
    case Code::kIo:
      return ApiError(507, "internal", "the server could not store the data (is its disk full?)")
          .with_detail(e.what());
    case Code::kUnavailable:
      return ApiError(503, "registry_unavailable",
                      "the registry database cannot be reached; inference goes on from the "
                      "replica's snapshot, changes are refused until it is back")
          .with_detail(e.what());
    case Code::kDatabase:
      break;
  }
  return ApiError(500, "internal", "the registry failed").with_detail(e.what());
}

int64_t parse_version(std::string_view text) {
  int64_t number = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || ptr != text.data() + text.size() || number <= 0) {
    throw bad_request("'" + std::string(text.substr(0, 40)) + "' is not a version number");
  }
  return number;
}

void require_model(Services& s, const std::string& model) {
  if (!s.registry.find_model(model)) {
    throw ApiError(404, "model_not_found", "no model '" + model + "'");
  }
}

int64_t existing_version(Services& s, const std::string& model, std::string_view text) {
  require_model(s, model);
  const int64_t version = parse_version(text);
  if (!s.registry.find_version(model, version)) {
    throw ApiError(404, "version_not_found",
                   "model '" + model + "' has no version " + std::to_string(version));
  }
  return version;
}

std::vector<RouteSpec> admin_route_specs() { return admin_routes().specs(); }

HttpResponse admin_route(const HttpRequest& request, const PathParts& parts,
                         const Principal& caller, Services& services) {
  PathParams params;
  const auto found = admin_routes().find(request.method, parts, params);
  if (found.handler == nullptr) {
    if (found.path_known) {
      throw ApiError(405, "bad_request",
                     "method " + request.method + " is not allowed here; use " + found.allowed);
    }
    throw ApiError(404, "not_found",
                   "no such admin endpoint: " + request.method + " " +
                       std::string(request.target.substr(0, 200)));
  }
  try {
    return (*found.handler)(AdminCall{request, params, caller, services});
  } catch (const RegistryError& e) {
    throw api_error(e);
  }
}

StreamDecision open_upload(const HttpRequest& head, const PathParts& parts, Services& services) {
  StreamDecision decision;
  if (!is_upload(head, parts)) return decision;
  try {
    HeadAuth auth = authenticated([&] {
      HeadAuth head_auth = services.auth.authenticate_head(head);
      Authenticator::require_scope(head_auth.principal, registry::kScopeAdmin);
      return head_auth;
    });
    if (const auto encoding = head.header("Content-Encoding");
        !encoding.empty() && encoding != "identity") {
      // The artifact's digest and signature cover the file itself: upload it as it is.
      throw ApiError(415, "unsupported_media_type",
                     "uploads take the model file as it is, without Content-Encoding");
    }
    const std::string model = parts.size() > 3 ? std::string(parts[3]) : std::string();
    decision.sink = make_upload(head, model, auth.principal, services, std::move(auth.pending));
  } catch (const ApiError& e) {
    if (e.status() == 401 || e.status() == 403) audit_refused_admin(services, head, e);
    throw;
  }
  return decision;
}

}  // namespace mg::gateway
