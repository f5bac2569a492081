#include <boost/json.hpp>
#include <charconv>

#include "gateway/api/admin_routes.h"
#include "gateway/api/errors.h"
#include "gateway/api/json_body.h"
#include "gateway/api/query.h"
#include "gateway/limits/limits.h"
#include "gateway/plugin_host/backend_manager.h"
#include "registry/artifact_signature.h"
#include "registry/registry.h"

// Trusted signers, backends, usage and the audit log.
namespace mg::gateway {

namespace json = boost::json;
using registry::RegistryError;

HttpResponse list_signers(const AdminCall& call) {
  json::array list;
  for (const auto& signer : call.services.registry.list_signers()) {
    std::string fingerprint;
    try {
      fingerprint = registry::public_key_fingerprint(signer.public_key_pem);
    } catch (const RegistryError&) {
    }
    list.emplace_back(json::object{{"name", signer.name},
                                   {"algorithm", signer.algorithm},
                                   {"public_key_sha256", fingerprint},
                                   {"created_at", signer.created_at}});
  }
  return json_response(json::object{{"signers", list}});
}

HttpResponse add_signer(const AdminCall& call) {
  const json::object body = parse_object(call.request.body);
  const std::string name = string_field(body, "name", "");
  call.services.registry.add_signer(name, string_field(body, "public_key", ""), call.caller.key_id);
  return json_response(json::object{{"name", name}, {"added", true}}, 201);
}

HttpResponse remove_signer(const AdminCall& call) {
  const std::string name = call.params.str("name");
  call.services.registry.remove_signer(name, call.caller.key_id);
  return json_response(json::object{{"name", name}, {"removed", true}});
}

HttpResponse list_backends(const AdminCall& call) {
  json::array list;
  for (const auto& b : call.services.backends.statuses()) {
    list.emplace_back(json::object{
        {"name", b.name},
        {"state", std::string(state_name(b.state))},
        {"reason", b.reason},
        {"isolation", std::string(isolation_name(call.services.backends.isolation_for(b.name)))},
        {"version", b.version},
        {"abi", std::to_string(b.abi_major) + "." + std::to_string(b.abi_minor)}});
  }
  return json_response(json::object{{"backends", list}});
}

HttpResponse usage_report(const AdminCall& call) {
  const HttpRequest& r = call.request;
  Services& s = call.services;
  auto seconds = [&](const char* name) -> int64_t {
    const auto text = query_param(r.target, name);
    if (!text || text->empty()) return 0;
    int64_t value = 0;
    auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (ec != std::errc() || ptr != text->data() + text->size() || value < 0) {
      throw bad_request(std::string("'") + name + "' must be unix seconds");
    }
    return value;
  };
  const int64_t since = seconds("since"), until = seconds("until");
  if (s.limits) s.limits->usage.flush();  // what was served up to now, not a second ago
  json::array rows;
  for (const auto& u : s.registry.usage(query_param(r.target, "tenant").value_or(""),
                                        since - since % 3600, until)) {
    rows.emplace_back(json::object{{"hour", u.hour},
                                   {"tenant", u.tenant},
                                   {"key_id", u.key_id},
                                   {"model", u.model},
                                   {"version", u.version},
                                   {"requests", u.requests},
                                   {"items", u.items},
                                   {"errors", u.errors}});
  }
  return json_response(json::object{{"usage", rows}});
}

HttpResponse audit_log(const AdminCall& call) {
  const auto after = query_param(call.request.target, "after").value_or("0");
  json::array list;
  for (const auto& e :
       call.services.registry.audit_log(after == "0" ? 0 : parse_version(after), 1000)) {
    boost::system::error_code ec;
    json::value details = json::parse(e.details_json, ec);
    list.emplace_back(json::object{{"id", e.id},
                                   {"time", e.time},
                                   {"actor", e.actor},
                                   {"action", e.action},
                                   {"target", e.target},
                                   {"details", ec ? json::value(nullptr) : details}});
  }
  return json_response(json::object{{"entries", list}});
}

}  // namespace mg::gateway
