#include "gateway/api/admin_api.h"

#include <openssl/evp.h>

#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "common/log.h"
#include "gateway/api/admin_audit.h"
#include "gateway/api/errors.h"
#include "gateway/api/query.h"
#include "gateway/limits/limits.h"
#include "gateway/plugin_host/backend_error.h"
#include "gateway/plugin_host/backend_manager.h"
#include "gateway/serving/model_repository.h"
#include "registry/artifact_signature.h"
#include "registry/registry.h"
#include "registry/registry_error.h"

namespace mg::gateway {
namespace {

namespace json = boost::json;
using registry::RegistryError;

HttpResponse json_response(const json::value& body, int status = 200) {
  HttpResponse response;
  response.status = status;
  response.body = json::serialize(body);
  return response;
}

// Registry refusals in the error contract. Messages name models, versions and aliases,
// never files: kIo and kDatabase details stay in the server's log.
ApiError api_error(const RegistryError& e) {
  using Code = RegistryError::Code;
  switch (e.code()) {
    case Code::kInvalidArgument:
    case Code::kDigestMismatch:
      return bad_request(e.what());
    case Code::kNotFound: {
      const std::string message = e.what();
      const bool model = message.starts_with("no model");
      return ApiError(404, model ? "model_not_found" : "not_found", message);
    }
    case Code::kAlreadyExists:
    case Code::kConflict:
      return ApiError(409, "conflict", e.what());
    case Code::kIo:
      return ApiError(507, "internal", "the server could not store the data (is its disk full?)")
          .with_detail(e.what());
    case Code::kDatabase:
      break;
  }
  return ApiError(500, "internal", "the registry failed").with_detail(e.what());
}

json::object parse_object(const std::string& body) {
  boost::system::error_code ec;
  json::value value = json::parse(body, ec);
  if (ec) throw bad_request("malformed JSON body: " + ec.message());
  if (!value.is_object()) throw bad_request("the body must be a JSON object");
  return value.as_object();
}

std::string string_field(const json::object& o, const char* name, const std::string& fallback) {
  auto it = o.find(name);
  if (it == o.end() || it->value().is_null()) return fallback;
  if (!it->value().is_string()) throw bad_request(std::string("'") + name + "' must be a string");
  return std::string(it->value().as_string());
}

bool bool_field(const json::object& o, const char* name, bool fallback) {
  auto it = o.find(name);
  if (it == o.end() || it->value().is_null()) return fallback;
  if (!it->value().is_bool())
    throw bad_request(std::string("'") + name + "' must be true or false");
  return it->value().as_bool();
}

// A number in [0, max]: the bound keeps every later conversion to an integer (and any
// arithmetic on it, such as seconds to milliseconds) inside int64, where 1e300 would be
// undefined behaviour.
double number_field(const json::object& o, const char* name, double fallback, double max) {
  auto it = o.find(name);
  if (it == o.end() || it->value().is_null()) return fallback;
  if (!it->value().is_number()) throw bad_request(std::string("'") + name + "' must be a number");
  const double value = it->value().to_number<double>();
  if (!std::isfinite(value) || value < 0 || value > max) {
    char bound[32];
    std::snprintf(bound, sizeof bound, "%.0f", max);
    throw bad_request(std::string("'") + name + "' must be a number from 0 to " + bound);
  }
  return value;
}

// Bounds of the admin API's numbers: far beyond any real use, well inside int64.
constexpr double kMaxQuota = 1e15;                  // requests per period
constexpr double kMaxRate = 1e9;                    // requests per second
constexpr double kMaxBurst = 1e12;                  // requests
constexpr double kMaxExpiresSeconds = 100 * 3.2e7;  // about a century

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

json::object model_json(Services& s, const registry::ModelRecord& m) {
  json::object aliases;
  for (const auto& a : s.registry.list_aliases(m.name)) aliases[a.alias] = a.version;
  boost::system::error_code ec;
  json::value config = json::parse(m.config_json, ec);
  return json::object{{"name", m.name},
                      {"backend", m.backend},
                      {"description", m.description},
                      {"config", ec ? json::value(json::object{}) : config},
                      {"require_signature", m.require_signature},
                      {"next_version", m.next_version},
                      {"created_at", m.created_at},
                      {"aliases", aliases}};
}

json::object version_json(Services& s, const registry::VersionRecord& v) {
  json::array aliases;
  for (const auto& a : s.registry.list_aliases(v.model)) {
    if (a.version == v.version) aliases.emplace_back(a.alias);
  }
  return json::object{{"model", v.model},
                      {"version", v.version},
                      {"artifact", v.artifact},
                      {"size", v.size},
                      {"encrypted", v.encrypted},
                      {"state", std::string(registry::state_name(v.state))},
                      {"reason", v.state_reason},
                      {"notes", v.notes},
                      {"loaded", s.models.find(v.model, v.version) != nullptr},
                      {"aliases", aliases},
                      {"created_at", v.created_at},
                      {"updated_at", v.updated_at}};
}

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

// A model load failing is the model's fault (a bad file, an unsupported operator): its
// reason goes back to the operator who asked.
ApiError load_failure(const std::string& model, int64_t version, const std::exception& e) {
  return ApiError(400, "bad_request",
                  "version " + std::to_string(version) + " of model '" + model +
                      "' failed to load: " + e.what());
}

// A registry refusal met while loading: a corrupt artifact or a missing signature.
bool is_load_refusal(const RegistryError& e) {
  return e.code() == RegistryError::Code::kDigestMismatch ||
         e.code() == RegistryError::Code::kInvalidArgument;
}

void switch_alias(Services& s, const std::string& model, const std::string& alias, int64_t version,
                  const std::string& actor) {
  try {
    s.models.switch_alias(model, alias, version, actor);
  } catch (const BackendError& e) {
    throw load_failure(model, version, e);
  } catch (const RegistryError& e) {
    if (!is_load_refusal(e)) throw;
    throw load_failure(model, version, e);
  }
}

// The artifact signature file sent with an upload, base64 in X-MG-Artifact-Signature.
std::optional<registry::ArtifactSignature> artifact_signature_of(const HttpRequest& head) {
  const std::string_view encoded = head.header("X-MG-Artifact-Signature");
  if (encoded.empty()) return std::nullopt;
  if (encoded.size() > 4096 || encoded.size() % 4 != 0) {
    throw bad_request("X-MG-Artifact-Signature must be a base64 signature file");
  }
  std::string text(encoded.size() / 4 * 3, '\0');
  const int size = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(text.data()),
                                   reinterpret_cast<const unsigned char*>(encoded.data()),
                                   static_cast<int>(encoded.size()));
  if (size < 0) throw bad_request("X-MG-Artifact-Signature must be a base64 signature file");
  text.resize(static_cast<std::size_t>(size));
  while (!text.empty() && text.back() == '\0') text.pop_back();  // base64 padding
  try {
    return registry::parse_signature(text);
  } catch (const RegistryError& e) {
    throw bad_request(std::string("the artifact signature file: ") + e.what());
  }
}

// Streams an upload into the artifact store; registers the version once it is durable.
class UploadSink : public BodySink {
 public:
  UploadSink(Services& s, std::string model, std::string notes, bool promote,
             std::optional<std::string> expected, std::string actor,
             std::optional<SignedParts> signature,
             std::optional<registry::ArtifactSignature> artifact_signature)
      : s_(s),
        model_(std::move(model)),
        notes_(std::move(notes)),
        promote_(promote),
        expected_(std::move(expected)),
        actor_(std::move(actor)),
        signature_(std::move(signature)),
        artifact_signature_(std::move(artifact_signature)),
        writer_(s.registry.artifacts().begin_write()) {}

  bool write(std::span<const char> piece) override {
    try {
      writer_.write(std::as_bytes(piece));
      return true;
    } catch (const RegistryError& e) {
      failure_ = e;
      return false;
    }
  }

  HttpResponse finish(bool complete) override {
    try {
      if (!complete)
        throw api_error(failure_.value_or(RegistryError(RegistryError::Code::kIo, "")));
      // A signed upload's signature covers the body's SHA-256, known only now: checked
      // before anything becomes durable.
      const std::string digest = writer_.digest();
      if (signature_) authenticated([&] { s_.auth.verify_body(*signature_, digest); });
      if (writer_.bytes_written() == 0) throw bad_request("the upload is empty");
      const std::optional<std::string> signer = check_artifact_signature(digest);
      const registry::StoredArtifact artifact = writer_.commit(expected_);
      const registry::VersionRecord v = s_.registry.add_version(model_, artifact, notes_, actor_);
      if (signer) {
        s_.registry.add_signature(artifact.digest, *signer, artifact_signature_->signature, actor_);
      }
      if (promote_) switch_alias(s_, model_, "default", v.version, actor_);
      return json_response(version_json(s_, *s_.registry.find_version(model_, v.version)), 201);
    } catch (const RegistryError& e) {
      return respond(api_error(e));
    } catch (const ApiError& e) {
      return respond(e);
    }
  }

 private:
  // The trusted signer of the upload's signature, checked before anything is stored;
  // refuses unsigned uploads of models (or servers) that require a signature.
  std::optional<std::string> check_artifact_signature(const std::string& digest) {
    const auto model = s_.registry.find_model(model_);
    const bool required = s_.models.require_signature() || (model && model->require_signature);
    if (!artifact_signature_) {
      if (!required) return std::nullopt;
      throw bad_request("model '" + model_ +
                        "' requires a signature from a trusted signer: upload with "
                        "--signature FILE.sig (mgctl sign)");
    }
    if (artifact_signature_->digest != digest) {
      throw bad_request("the signature is for other content (digest " +
                        artifact_signature_->digest + ", upload " + digest + ")");
    }
    auto signer = s_.registry.trusted_signer(*artifact_signature_);
    if (!signer) {
      throw bad_request(
          "the signature does not verify with any trusted signer's key "
          "(mgctl signer list)");
    }
    return signer;
  }

  HttpResponse respond(const ApiError& e) const {
    if (e.status() >= 500) {
      log(LogLevel::kError, "upload of a version of model " + model_ + " answered " +
                                std::to_string(e.status()) + " " + e.code() + ": " +
                                (e.detail().empty() ? std::string(e.what()) : e.detail()));
    }
    return error_response(e.status(), e.code(), e.what());
  }

  Services& s_;
  std::string model_, notes_;
  bool promote_;
  std::optional<std::string> expected_;
  std::string actor_;
  std::optional<SignedParts> signature_;
  std::optional<registry::ArtifactSignature> artifact_signature_;
  registry::ArtifactStore::Writer writer_;
  std::optional<RegistryError> failure_;
};

std::unique_ptr<UploadSink> make_upload(const HttpRequest& head, const std::string& model,
                                        const Principal& caller, Services& s,
                                        std::optional<SignedParts> signature) {
  require_model(s, model);
  std::optional<std::string> expected = query_param(head.target, "sha256");
  if (expected && (expected->size() != 64 ||
                   expected->find_first_not_of("0123456789abcdef") != std::string::npos)) {
    throw bad_request("'sha256' must be 64 lowercase hex characters");
  }
  const std::string promote = query_param(head.target, "promote").value_or("false");
  if (promote != "true" && promote != "false" && promote != "1" && promote != "0") {
    throw bad_request("'promote' must be true or false");
  }
  try {
    return std::make_unique<UploadSink>(s, model, query_param(head.target, "notes").value_or(""),
                                        promote == "true" || promote == "1", std::move(expected),
                                        caller.key_id, std::move(signature),
                                        artifact_signature_of(head));
  } catch (const RegistryError& e) {
    throw api_error(e);
  }
}

bool is_upload(const HttpRequest& request, const std::vector<std::string_view>& parts) {
  return request.method == "POST" && parts.size() == 5 && parts[2] == "models" &&
         parts[4] == "versions";
}

HttpResponse models_route(const HttpRequest& r, const std::vector<std::string_view>& parts,
                          const Principal& caller, Services& s) {
  const std::string& method = r.method;
  if (parts.size() == 3) {  // /admin/v1/models
    if (method == "GET") {
      json::array list;
      for (const auto& m : s.registry.list_models()) list.emplace_back(model_json(s, m));
      return json_response(json::object{{"models", list}});
    }
    if (method == "POST") {
      const json::object body = parse_object(r.body);
      registry::ModelSpec spec;
      spec.name = string_field(body, "name", "");
      spec.backend = string_field(body, "backend", "cpu");
      spec.description = string_field(body, "description", "");
      spec.require_signature = bool_field(body, "require_signature", false);
      if (auto it = body.find("config"); it != body.end()) {
        if (!it->value().is_object()) throw bad_request("'config' must be a JSON object");
        spec.config_json = json::serialize(it->value());
      }
      return json_response(model_json(s, s.registry.create_model(spec, caller.key_id)), 201);
    }
    throw ApiError(405, "bad_request", "use GET or POST");
  }
  const std::string model(parts[3]);
  require_model(s, model);
  if (parts.size() == 4) {
    if (method != "GET") throw ApiError(405, "bad_request", "use GET");
    json::object shown = model_json(s, *s.registry.find_model(model));
    json::array versions;
    for (const auto& v : s.registry.list_versions(model)) versions.emplace_back(version_json(s, v));
    shown["versions"] = versions;
    return json_response(shown);
  }
  if (parts[4] == "versions") {
    if (parts.size() == 5) {
      if (method == "POST") {  // a buffered upload (the server streams real ones)
        auto sink = make_upload(r, model, caller, s, std::nullopt);  // already authenticated
        const bool written = sink->write(std::span<const char>(r.body.data(), r.body.size()));
        return sink->finish(written);
      }
      if (method != "GET") throw ApiError(405, "bad_request", "use GET or POST");
      json::array versions;
      for (const auto& v : s.registry.list_versions(model)) {
        versions.emplace_back(version_json(s, v));
      }
      return json_response(json::object{{"versions", versions}});
    }
    const int64_t version = existing_version(s, model, parts[5]);
    if (parts.size() == 6) {
      if (method != "GET") throw ApiError(405, "bad_request", "use GET");
      return json_response(version_json(s, *s.registry.find_version(model, version)));
    }
    if (parts.size() == 7 && method == "POST") {
      const std::string_view action = parts[6];
      if (action == "load") {
        try {
          s.models.load(model, version, caller.key_id);
        } catch (const BackendError& e) {
          throw load_failure(model, version, e);
        } catch (const RegistryError& e) {
          if (!is_load_refusal(e)) throw;
          throw load_failure(model, version, e);
        }
      } else if (action == "unload") {
        s.models.unload(model, version, caller.key_id);
      } else if (action == "retire") {
        for (const auto& a : s.registry.list_aliases(model)) {
          if (a.version == version) {
            throw ApiError(409, "conflict",
                           "version " + std::to_string(version) + " is aliased as '" + a.alias +
                               "'; move the alias first");
          }
        }
        s.models.unload(model, version, caller.key_id);
        s.registry.set_version_state(model, version, registry::VersionState::kRetired, "",
                                     caller.key_id);
      } else {
        throw ApiError(404, "not_found", "no version action '" + std::string(action) + "'");
      }
      return json_response(version_json(s, *s.registry.find_version(model, version)));
    }
  }
  if (parts[4] == "aliases") {
    if (parts.size() == 5 && method == "GET") {
      json::object aliases;
      for (const auto& a : s.registry.list_aliases(model)) aliases[a.alias] = a.version;
      return json_response(json::object{{"aliases", aliases}});
    }
    if (parts.size() == 6) {
      const std::string alias(parts[5]);
      if (method == "PUT") {
        const json::object body = parse_object(r.body);
        auto it = body.find("version");
        if (it == body.end() || !it->value().is_int64()) {
          throw bad_request("the body must be {\"version\": N}");
        }
        const int64_t version = existing_version(s, model, std::to_string(it->value().as_int64()));
        switch_alias(s, model, alias, version, caller.key_id);
        return json_response(
            json::object{{"model", model}, {"alias", alias}, {"version", version}});
      }
      if (method == "DELETE") {
        if (alias == "default") {
          throw ApiError(409, "conflict", "the default alias can be moved but not removed");
        }
        const auto previous = s.registry.resolve(model, alias);
        s.registry.remove_alias(model, alias, caller.key_id);
        bool still_aliased = false;
        for (const auto& a : s.registry.list_aliases(model)) {
          still_aliased = still_aliased || (previous && a.version == *previous);
        }
        if (previous && !still_aliased) s.models.unload(model, *previous, caller.key_id);
        return json_response(json::object{{"model", model}, {"alias", alias}, {"removed", true}});
      }
    }
  }
  throw ApiError(404, "not_found",
                 "no such admin endpoint: " + method + " " + std::string(r.target.substr(0, 200)));
}

HttpResponse tenants_route(const HttpRequest& r, const std::vector<std::string_view>& parts,
                           const Principal& caller, Services& s) {
  if (parts.size() != 3) throw ApiError(404, "not_found", "no such admin endpoint");
  if (r.method == "GET") {
    json::array list;
    for (const auto& t : s.registry.list_tenants()) list.emplace_back(tenant_json(t));
    return json_response(json::object{{"tenants", list}});
  }
  if (r.method != "POST") throw ApiError(405, "bad_request", "use GET or POST");
  const json::object body = parse_object(r.body);
  const std::string period = string_field(body, "period", "month");
  const auto quota_period = registry::period_from_name(period);
  if (!quota_period) throw bad_request("'period' must be minute, hour, day or month");
  const double quota = number_field(body, "quota", 0, kMaxQuota);
  auto tenant = s.registry.create_tenant(string_field(body, "name", ""),
                                         static_cast<int64_t>(quota), *quota_period, caller.key_id);
  return json_response(tenant_json(tenant), 201);
}

HttpResponse keys_route(const HttpRequest& r, const std::vector<std::string_view>& parts,
                        const Principal& caller, Services& s) {
  if (parts.size() == 3 && r.method == "GET") {
    json::array list;
    for (const auto& k : s.registry.list_keys(query_param(r.target, "tenant").value_or(""))) {
      list.emplace_back(key_json(k));
    }
    return json_response(json::object{{"keys", list}});
  }
  if (parts.size() == 3 && r.method == "POST") {
    const json::object body = parse_object(r.body);
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
    IssuedKey issued = s.auth.issue_key(spec, caller.key_id);
    json::object shown = key_json(issued.record);
    shown["key"] = issued.key;
    return json_response(shown, 201);
  }
  if (parts.size() == 4 && r.method == "DELETE") {
    s.registry.revoke_key(std::string(parts[3]), caller.key_id);
    return json_response(json::object{{"id", std::string(parts[3])}, {"revoked", true}});
  }
  throw ApiError(404, "not_found", "no such admin endpoint");
}

HttpResponse signers_route(const HttpRequest& r, const std::vector<std::string_view>& parts,
                           const Principal& caller, Services& s) {
  if (parts.size() == 3 && r.method == "GET") {
    json::array list;
    for (const auto& signer : s.registry.list_signers()) {
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
  if (parts.size() == 3 && r.method == "POST") {
    const json::object body = parse_object(r.body);
    const std::string name = string_field(body, "name", "");
    s.registry.add_signer(name, string_field(body, "public_key", ""), caller.key_id);
    return json_response(json::object{{"name", name}, {"added", true}}, 201);
  }
  if (parts.size() == 4 && r.method == "DELETE") {
    s.registry.remove_signer(std::string(parts[3]), caller.key_id);
    return json_response(json::object{{"name", std::string(parts[3])}, {"removed", true}});
  }
  throw ApiError(404, "not_found", "no such admin endpoint");
}

HttpResponse dispatch(const HttpRequest& r, const std::vector<std::string_view>& parts,
                      const Principal& caller, Services& s) {
  if (parts.size() < 3) throw ApiError(404, "not_found", "no such admin endpoint");
  const std::string_view resource = parts[2];
  if (resource == "models") return models_route(r, parts, caller, s);
  if (resource == "tenants") return tenants_route(r, parts, caller, s);
  if (resource == "keys") return keys_route(r, parts, caller, s);
  if (resource == "signers") return signers_route(r, parts, caller, s);
  if (resource == "backends" && parts.size() == 3 && r.method == "GET") {
    json::array list;
    for (const auto& b : s.backends.statuses()) {
      list.emplace_back(
          json::object{{"name", b.name},
                       {"state", std::string(state_name(b.state))},
                       {"reason", b.reason},
                       {"version", b.version},
                       {"abi", std::to_string(b.abi_major) + "." + std::to_string(b.abi_minor)}});
    }
    return json_response(json::object{{"backends", list}});
  }
  if (resource == "usage" && parts.size() == 3 && r.method == "GET") {
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
  if (resource == "audit" && parts.size() == 3 && r.method == "GET") {
    const auto after = query_param(r.target, "after").value_or("0");
    json::array list;
    for (const auto& e : s.registry.audit_log(after == "0" ? 0 : parse_version(after), 1000)) {
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
  throw ApiError(
      404, "not_found",
      "no such admin endpoint: " + r.method + " " + std::string(r.target.substr(0, 200)));
}

}  // namespace

HttpResponse admin_route(const HttpRequest& request, const std::vector<std::string_view>& parts,
                         const Principal& caller, Services& services) {
  try {
    return dispatch(request, parts, caller, services);
  } catch (const RegistryError& e) {
    throw api_error(e);
  }
}

StreamDecision open_upload(const HttpRequest& head, const std::vector<std::string_view>& parts,
                           Services& services) {
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
    decision.sink =
        make_upload(head, std::string(parts[3]), auth.principal, services, std::move(auth.pending));
  } catch (const ApiError& e) {
    if (e.status() == 401 || e.status() == 403) audit_refused_admin(services, head, e);
    decision.refusal = error_response(e.status(), e.code(), e.what());
  }
  return decision;
}

}  // namespace mg::gateway
