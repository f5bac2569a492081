#include <boost/json.hpp>

#include "gateway/api/admin_routes.h"
#include "gateway/api/errors.h"
#include "gateway/api/json_body.h"
#include "gateway/api/query.h"
#include "registry/registry.h"

// Tenants and their API keys.
namespace mg::gateway {
namespace {

namespace json = boost::json;

// Bounds of the admin API's numbers: far beyond any real use, well inside int64.
constexpr double kMaxQuota = 1e15;                  // requests per period
constexpr double kMaxRate = 1e9;                    // requests per second
constexpr double kMaxBurst = 1e12;                  // requests
constexpr double kMaxExpiresSeconds = 100 * 3.2e7;  // about a century

json::object key_json(const registry::KeyRecord& k) {
  return json::object{{"id", k.id},
                      {"tenant", k.tenant},
                      {"scopes", registry::scopes_text(k.scopes)},
                      {"models", k.models},
                      {"rate", k.rate},
                      {"burst", k.burst},
                      {"signed_only", k.signed_only},
                      {"expires_at", k.expires_at},
                      {"created_at", k.created_at},
                      {"revoked", k.revoked_at != 0},
                      {"revoked_at", k.revoked_at}};
}

json::object tenant_json(const registry::TenantRecord& t) {
  return json::object{{"name", t.name},
                      {"quota", t.quota_limit},
                      {"period", std::string(registry::period_name(t.quota_period))},
                      {"created_at", t.created_at}};
}

}  // namespace

HttpResponse list_tenants(const AdminCall& call) {
  json::array list;
  for (const auto& t : call.services.registry.list_tenants()) list.emplace_back(tenant_json(t));
  return json_response(json::object{{"tenants", list}});
}

HttpResponse create_tenant(const AdminCall& call) {
  const json::object body = parse_object(call.request.body);
  const std::string period = string_field(body, "period", "month");
  const auto quota_period = registry::period_from_name(period);
  if (!quota_period) throw bad_request("'period' must be minute, hour, day or month");
  const double quota = number_field(body, "quota", 0, kMaxQuota);
  auto tenant = call.services.registry.create_tenant(string_field(body, "name", ""),
                                                     static_cast<int64_t>(quota), *quota_period,
                                                     call.caller.key_id);
  return json_response(tenant_json(tenant), 201);
}

HttpResponse list_keys(const AdminCall& call) {
  json::array list;
  const std::string tenant = query_param(call.request.target, "tenant").value_or("");
  for (const auto& k : call.services.registry.list_keys(tenant)) list.emplace_back(key_json(k));
  return json_response(json::object{{"keys", list}});
}

HttpResponse create_key(const AdminCall& call) {
  Services& s = call.services;
  const json::object body = parse_object(call.request.body);
  KeySpec spec;
  spec.tenant = string_field(body, "tenant", "");
  if (!s.registry.find_tenant(spec.tenant)) {
    throw ApiError(404, "not_found", "no tenant '" + spec.tenant.substr(0, 64) + "'");
  }
  const auto scopes = registry::scopes_from_text(string_field(body, "scopes", "infer"));
  if (!scopes || *scopes == 0) throw bad_request("'scopes' must be infer, admin or infer,admin");
  spec.scopes = *scopes;
  spec.models = string_field(body, "models", "*");
  spec.rate = number_field(body, "rate", 0, kMaxRate);
  spec.burst = static_cast<int64_t>(number_field(body, "burst", 0, kMaxBurst));
  spec.signed_only = bool_field(body, "signed_only", false);
  const double expires_in = number_field(body, "expires_in_seconds", 0, kMaxExpiresSeconds);
  if (expires_in > 0) {
    spec.expires_at = s.registry.now() + static_cast<int64_t>(expires_in * 1000);
  }
  IssuedKey issued = s.auth.issue_key(spec, call.caller.key_id);
  json::object shown = key_json(issued.record);
  shown["key"] = issued.key;
  return json_response(shown, 201);
}

HttpResponse revoke_key(const AdminCall& call) {
  const std::string id = call.params.str("key_id");
  call.services.registry.revoke_key(id, call.caller.key_id);
  return json_response(json::object{{"id", id}, {"revoked", true}});
}

}  // namespace mg::gateway
