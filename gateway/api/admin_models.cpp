#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <optional>

#include "common/base64.h"
#include "common/log.h"
#include "gateway/api/admin_routes.h"
#include "gateway/api/errors.h"
#include "gateway/api/json_body.h"
#include "gateway/api/query.h"
#include "gateway/plugin_host/backend_error.h"
#include "gateway/serving/model_repository.h"
#include "registry/artifact_signature.h"
#include "registry/names.h"
#include "registry/registry.h"

// Models, their versions and aliases, and version uploads.
namespace mg::gateway {
namespace {

namespace json = boost::json;
using registry::RegistryError;

// More would be a model's data, not its files.
constexpr std::size_t kMaxVersionFiles = 16;

// A weighted alias: {"versions": [{"version", "weight"}…], "sticky"}.
json::object split_json(const registry::AliasSplit& split) {
  json::array versions;
  for (const auto& w : split.versions) {
    versions.emplace_back(json::object{{"version", w.version}, {"weight", w.weight}});
  }
  return json::object{{"versions", std::move(versions)}, {"sticky", split.sticky}};
}

// {"aliases": {alias: its own version}, "splits": {alias: split}} of a model.
void add_aliases(Services& s, const std::string& model, json::object& out) {
  json::object aliases, splits;
  for (const auto& a : s.registry.list_aliases(model)) {
    aliases[a.alias] = a.version;
    if (a.split) splits[a.alias] = split_json(*a.split);
  }
  out["aliases"] = std::move(aliases);
  out["splits"] = std::move(splits);
}

json::object model_json(Services& s, const registry::ModelRecord& m) {
  boost::system::error_code ec;
  json::value config = json::parse(m.config_json, ec);
  json::object out{{"name", m.name},
                   {"backend", m.backend},
                   {"description", m.description},
                   {"config", ec ? json::value(json::object{}) : config},
                   {"require_signature", m.require_signature},
                   {"next_version", m.next_version},
                   {"created_at", m.created_at}};
  add_aliases(s, m.name, out);
  return out;
}

json::object files_json(const std::map<std::string, std::string>& files) {
  json::object shown;
  for (const auto& [name, digest] : files) shown[name] = digest;
  return shown;
}

json::object version_json(Services& s, const registry::VersionRecord& v) {
  json::array aliases;
  for (const auto& a : s.registry.list_aliases(v.model)) {
    if (a.serves(v.version)) aliases.emplace_back(a.alias);
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
                      {"updated_at", v.updated_at},
                      {"files", files_json(v.files)}};
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

}  // namespace

void load_or_refuse(Services& s, const std::string& model, int64_t version,
                    const std::string& actor) {
  try {
    s.models.load(model, version, actor);
  } catch (const BackendError& e) {
    throw load_failure(model, version, e);
  } catch (const RegistryError& e) {
    if (!is_load_refusal(e)) throw;
    throw load_failure(model, version, e);
  }
}

namespace {

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
  const std::optional<std::string> text =
      encoded.size() > 4096 ? std::nullopt : decode_base64(encoded);
  if (!text) throw bad_request("X-MG-Artifact-Signature must be a base64 signature file");
  try {
    return registry::parse_signature(*text);
  } catch (const RegistryError& e) {
    throw bad_request(std::string("the artifact signature file: ") + e.what());
  }
}

// X-MG-Version-Files: "name=digest, name=digest": the files (artifacts uploaded before,
// POST /admin/v1/artifacts) the new version carries besides its model.
std::map<std::string, std::string> version_files_of(const HttpRequest& head) {
  std::map<std::string, std::string> files;
  std::string_view rest = head.header("X-MG-Version-Files");
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.empty()) continue;
    const std::size_t equals = item.find('=');
    const std::string digest(equals == std::string_view::npos ? "" : item.substr(equals + 1));
    const std::string name(item.substr(0, std::min(equals, item.size())));
    if (digest.size() != 64 || digest.find_first_not_of("0123456789abcdef") != std::string::npos) {
      throw bad_request("X-MG-Version-Files takes name=sha256 pairs (64 lowercase hex characters)");
    }
    try {
      registry::validate_file_name(name);
    } catch (const RegistryError& e) {
      throw bad_request(e.what());
    }
    if (!files.emplace(name, digest).second) {
      throw bad_request("X-MG-Version-Files names the file '" + name + "' twice");
    }
    if (files.size() > kMaxVersionFiles) {
      throw bad_request("a version carries at most " + std::to_string(kMaxVersionFiles) + " files");
    }
  }
  return files;
}

// Streams an upload into the artifact store. A version upload (model_ set) registers the
// version once it is durable; an artifact upload (model_ empty) records the artifact for a
// version to name as one of its files.
class UploadSink : public BodySink {
 public:
  UploadSink(Services& s, std::string model, std::string notes, bool promote, bool force,
             std::optional<std::string> expected, std::string actor,
             std::optional<SignedParts> signature,
             std::optional<registry::ArtifactSignature> artifact_signature,
             std::map<std::string, std::string> files)
      : s_(s),
        model_(std::move(model)),
        notes_(std::move(notes)),
        files_(std::move(files)),
        promote_(promote),
        force_(force),
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
      if (model_.empty()) {
        const registry::StoredArtifact artifact = writer_.commit(expected_);
        s_.registry.add_artifact(artifact, actor_);
        if (signer) {
          s_.registry.add_signature(artifact.digest, *signer, artifact_signature_->signature,
                                    actor_);
        }
        return json_response(
            json::object{{"digest", artifact.digest},
                         {"size", artifact.size},
                         {"encrypted", s_.registry.artifacts().is_encrypted(artifact.digest)},
                         {"signer", signer.value_or("")}},
            201);
      }
      check_files_signed();
      const registry::StoredArtifact artifact = writer_.commit(expected_);
      const registry::VersionRecord v =
          s_.registry.add_version(model_, artifact, notes_, actor_, false, files_);
      if (signer) {
        s_.registry.add_signature(artifact.digest, *signer, artifact_signature_->signature, actor_);
      }
      if (promote_) {
        // The gate judges the version now it exists; a refused one stays uploaded.
        if (auto refusal = check_gate(s_, model_, v.version, force_, actor_)) return *refusal;
        switch_alias(s_, model_, "default", v.version, actor_);
      }
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
    if (!artifact_signature_) {
      if (!signature_required()) return std::nullopt;
      throw bad_request((model_.empty() ? std::string("this server") : "model '" + model_ + "'") +
                        " requires a signature from a trusted signer: upload with "
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

  bool signature_required() const {
    if (s_.models.require_signature()) return true;
    const auto model = model_.empty() ? std::nullopt : s_.registry.find_model(model_);
    return model && model->require_signature;
  }

  // A version that must be signed carries only files signed by a trusted signer too.
  void check_files_signed() const {
    if (!signature_required()) return;
    for (const auto& [name, digest] : files_) {
      if (!s_.registry.verified_signer(digest)) {
        throw bad_request("model '" + model_ + "' requires signed files: the file '" + name +
                          "' (artifact " + digest +
                          ") has no signature from a trusted signer (upload it with --signature)");
      }
    }
  }

  HttpResponse respond(const ApiError& e) const {
    if (e.status() >= 500) {
      log(LogLevel::kError, (model_.empty() ? std::string("upload of an artifact")
                                            : "upload of a version of model " + model_) +
                                " answered " + std::to_string(e.status()) + " " + e.code() + ": " +
                                (e.detail().empty() ? std::string(e.what()) : e.detail()));
    }
    return error_response(e.status(), e.code(), e.what());
  }

  Services& s_;
  std::string model_, notes_;
  std::map<std::string, std::string> files_;
  bool promote_, force_;
  std::optional<std::string> expected_;
  std::string actor_;
  std::optional<SignedParts> signature_;
  std::optional<registry::ArtifactSignature> artifact_signature_;
  registry::ArtifactStore::Writer writer_;
  std::optional<RegistryError> failure_;
};

}  // namespace

std::unique_ptr<BodySink> make_upload(const HttpRequest& head, const std::string& model,
                                      const Principal& caller, Services& s,
                                      std::optional<SignedParts> signature) {
  if (!model.empty()) require_model(s, model);
  std::optional<std::string> expected = query_param(head.target, "sha256");
  if (expected && (expected->size() != 64 ||
                   expected->find_first_not_of("0123456789abcdef") != std::string::npos)) {
    throw bad_request("'sha256' must be 64 lowercase hex characters");
  }
  const auto flag = [&](const char* name) {
    const std::string value = query_param(head.target, name).value_or("false");
    if (value != "true" && value != "false" && value != "1" && value != "0") {
      throw bad_request("'" + std::string(name) + "' must be true or false");
    }
    return value == "true" || value == "1";
  };
  const bool promote = flag("promote"), force = flag("force");
  try {
    return std::make_unique<UploadSink>(
        s, model, query_param(head.target, "notes").value_or(""), promote, force,
        std::move(expected), caller.key_id, std::move(signature), artifact_signature_of(head),
        model.empty() ? std::map<std::string, std::string>() : version_files_of(head));
  } catch (const RegistryError& e) {
    throw api_error(e);
  }
}

HttpResponse list_models(const AdminCall& call) {
  json::array list;
  for (const auto& m : call.services.registry.list_models()) {
    list.emplace_back(model_json(call.services, m));
  }
  return json_response(json::object{{"models", list}});
}

HttpResponse create_model(const AdminCall& call) {
  const json::object body = parse_object(call.request.body);
  registry::ModelSpec spec;
  spec.name = string_field(body, "name", "");
  spec.backend = string_field(body, "backend", "cpu");
  spec.description = string_field(body, "description", "");
  spec.require_signature = bool_field(body, "require_signature", false);
  if (auto it = body.find("config"); it != body.end()) {
    if (!it->value().is_object()) throw bad_request("'config' must be a JSON object");
    spec.config_json = json::serialize(it->value());
  }
  Services& s = call.services;
  return json_response(model_json(s, s.registry.create_model(spec, call.caller.key_id)), 201);
}

HttpResponse show_model(const AdminCall& call) {
  Services& s = call.services;
  const std::string model = call.params.str("model");
  require_model(s, model);
  const auto record = s.registry.find_model(model);
  json::object shown = model_json(s, *record);
  shown["isolation"] = std::string(
      isolation_name(isolation_for_model(s.backends, record->backend, record->config_json)));
  const std::map<int64_t, json::object> evaluations = latest_evaluations(s, model);
  json::array versions;
  for (const auto& v : s.registry.list_versions(model)) {
    json::object version = version_json(s, v);
    auto it = evaluations.find(v.version);
    version["evaluation"] =
        it == evaluations.end() ? json::value(nullptr) : json::value(it->second);
    versions.emplace_back(std::move(version));
  }
  shown["versions"] = versions;
  return json_response(shown);
}

HttpResponse list_versions(const AdminCall& call) {
  Services& s = call.services;
  const std::string model = call.params.str("model");
  require_model(s, model);
  json::array versions;
  for (const auto& v : s.registry.list_versions(model)) versions.emplace_back(version_json(s, v));
  return json_response(json::object{{"versions", versions}});
}

// A buffered upload (the server streams real ones through open_upload).
HttpResponse upload_version(const AdminCall& call) {
  const HttpRequest& r = call.request;
  auto sink = make_upload(r, call.params.str("model"), call.caller, call.services, std::nullopt);
  const bool written = sink->write(std::span<const char>(r.body.data(), r.body.size()));
  return sink->finish(written);
}

HttpResponse upload_artifact(const AdminCall& call) {
  const HttpRequest& r = call.request;
  auto sink = make_upload(r, "", call.caller, call.services, std::nullopt);
  const bool written = sink->write(std::span<const char>(r.body.data(), r.body.size()));
  return sink->finish(written);
}

HttpResponse show_version(const AdminCall& call) {
  Services& s = call.services;
  const std::string model = call.params.str("model");
  const int64_t version = existing_version(s, model, call.params["version"]);
  return json_response(version_json(s, *s.registry.find_version(model, version)));
}

HttpResponse load_version(const AdminCall& call) {
  Services& s = call.services;
  const std::string model = call.params.str("model");
  const int64_t version = existing_version(s, model, call.params["version"]);
  load_or_refuse(s, model, version, call.caller.key_id);
  return json_response(version_json(s, *s.registry.find_version(model, version)));
}

HttpResponse unload_version(const AdminCall& call) {
  Services& s = call.services;
  const std::string model = call.params.str("model");
  const int64_t version = existing_version(s, model, call.params["version"]);
  s.models.unload(model, version, call.caller.key_id);
  return json_response(version_json(s, *s.registry.find_version(model, version)));
}

HttpResponse retire_version(const AdminCall& call) {
  Services& s = call.services;
  const std::string model = call.params.str("model");
  const int64_t version = existing_version(s, model, call.params["version"]);
  for (const auto& a : s.registry.list_aliases(model)) {
    if (a.serves(version)) {
      throw ApiError(409, "conflict",
                     "version " + std::to_string(version) + " is aliased as '" + a.alias +
                         "'; move the alias first");
    }
  }
  if (const auto shadow = registry::Shadow::from_config(s.registry.find_model(model)->config_json);
      shadow && shadow->version == version) {
    throw ApiError(
        409, "conflict",
        "version " + std::to_string(version) + " is the model's shadow; remove it first");
  }
  s.models.unload(model, version, call.caller.key_id);
  s.registry.set_version_state(model, version, registry::VersionState::kRetired, "",
                               call.caller.key_id);
  return json_response(version_json(s, *s.registry.find_version(model, version)));
}

HttpResponse list_aliases(const AdminCall& call) {
  Services& s = call.services;
  const std::string model = call.params.str("model");
  require_model(s, model);
  json::object out;
  add_aliases(s, model, out);
  return json_response(out);
}

namespace {

// The versions an alias body names: {"version": N}, or {"versions": [{"version": N,
// "weight": W}…]} for a weighted alias (a canary), each version existing.
std::vector<registry::AliasWeight> alias_versions_of(Services& s, const std::string& model,
                                                     const json::object& body) {
  std::vector<registry::AliasWeight> versions;
  if (auto one = body.find("version"); one != body.end()) {
    if (!one->value().is_int64()) throw bad_request("'version' must be a version number");
    versions.push_back({existing_version(s, model, std::to_string(one->value().as_int64())), 1});
  }
  if (auto many = body.find("versions"); many != body.end()) {
    if (!versions.empty()) throw bad_request("give 'version' or 'versions', not both");
    if (!many->value().is_array()) throw bad_request("'versions' must be an array");
    for (const auto& item : many->value().as_array()) {
      const json::object* o = item.if_object();
      const json::value* v = o != nullptr ? o->if_contains("version") : nullptr;
      const json::value* w = o != nullptr ? o->if_contains("weight") : nullptr;
      if (v == nullptr || !v->is_int64() || w == nullptr || !w->is_int64() || w->as_int64() < 1 ||
          w->as_int64() > 1'000'000) {
        throw bad_request(
            "each of 'versions' is {\"version\": N, \"weight\": W} with W from 1 to 1000000");
      }
      versions.push_back({existing_version(s, model, std::to_string(v->as_int64())),
                          static_cast<uint32_t>(w->as_int64())});
    }
  }
  if (versions.empty()) {
    throw bad_request(
        "the body must be {\"version\": N} or {\"versions\": [{\"version\": N, \"weight\": W}, "
        "…]}");
  }
  if (versions.size() > registry::Registry::kMaxSplitVersions) {
    throw bad_request("an alias splits among at most " +
                      std::to_string(registry::Registry::kMaxSplitVersions) + " versions");
  }
  return versions;
}

// Loads every version of a switch first, so a failure names its version and moves nothing.
void switch_alias_to(Services& s, const std::string& model, const std::string& alias,
                     const std::vector<registry::AliasWeight>& versions, bool sticky,
                     const std::string& actor) {
  for (const auto& v : versions) load_or_refuse(s, model, v.version, actor);
  try {
    s.models.switch_alias_split(model, alias, versions, sticky, actor);
  } catch (const RegistryError& e) {
    if (!is_load_refusal(e)) throw;
    throw load_failure(model, versions.front().version, e);
  }
}

json::object alias_answer(Services& s, const std::string& model, const std::string& alias) {
  json::object out{{"model", model}, {"alias", alias}};
  for (const auto& a : s.registry.list_aliases(model)) {
    if (a.alias != alias) continue;
    out["version"] = a.version;
    if (a.split) out["split"] = split_json(*a.split);
  }
  return out;
}

}  // namespace

// {"version": N} or {"versions": [{"version", "weight"}…], "sticky"?: bool}, "force"?: bool.
// The default alias goes through the model's gate for every version it would newly reach.
HttpResponse set_alias(const AdminCall& call) {
  Services& s = call.services;
  const std::string model = call.params.str("model"), alias = call.params.str("alias");
  require_model(s, model);
  const json::object body = parse_object(call.request.body);
  const std::vector<registry::AliasWeight> versions = alias_versions_of(s, model, body);
  if (alias == "default") {
    std::vector<int64_t> serving;
    if (const auto* entry = s.registry.snapshot().find(model)) {
      serving = entry->alias_versions(alias);
    }
    const bool force = bool_field(body, "force", false);
    for (const auto& v : versions) {
      if (std::find(serving.begin(), serving.end(), v.version) != serving.end()) continue;
      if (auto refusal = check_gate(s, model, v.version, force, call.caller.key_id)) {
        return *refusal;
      }
    }
  }
  switch_alias_to(s, model, alias, versions, bool_field(body, "sticky", false), call.caller.key_id);
  return json_response(alias_answer(s, model, alias));
}

// A weighted alias back to its own (stable) version alone: the canary's rollback.
HttpResponse rollback_alias(const AdminCall& call) {
  Services& s = call.services;
  const std::string model = call.params.str("model"), alias = call.params.str("alias");
  require_model(s, model);
  for (const auto& a : s.registry.list_aliases(model)) {
    if (a.alias != alias) continue;
    if (!a.split) {
      throw ApiError(409, "conflict",
                     "alias '" + alias + "' points at version " + std::to_string(a.version) +
                         " alone: there is no canary to roll back");
    }
    log(LogLevel::kInfo, "rolling back " + model + ":" + alias + " to version " +
                             std::to_string(a.version) + " (by " + call.caller.key_id + ")");
    switch_alias_to(s, model, alias, {{a.version, 1}}, false, call.caller.key_id);
    return json_response(alias_answer(s, model, alias));
  }
  throw ApiError(404, "not_found", "model '" + model + "' has no alias '" + alias + "'");
}

HttpResponse remove_alias(const AdminCall& call) {
  Services& s = call.services;
  const std::string model = call.params.str("model"), alias = call.params.str("alias");
  require_model(s, model);
  if (alias == "default") {
    throw ApiError(409, "conflict", "the default alias can be moved but not removed");
  }
  std::vector<int64_t> previous;
  if (const auto* entry = s.registry.snapshot().find(model))
    previous = entry->alias_versions(alias);
  s.registry.remove_alias(model, alias, call.caller.key_id);
  std::vector<int64_t> left;
  if (const auto* entry = s.registry.snapshot().find(model)) {
    for (int64_t v : previous) {
      if (!entry->aliased(v)) left.push_back(v);
    }
  }
  for (int64_t v : left) s.models.unload(model, v, call.caller.key_id);
  return json_response(json::object{{"model", model}, {"alias", alias}, {"removed", true}});
}

}  // namespace mg::gateway
