#include "registry/registry.h"

#include <boost/json.hpp>
#include <chrono>
#include <set>
#include <utility>

#include "registry/names.h"
#include "registry/postgres.h"
#include "registry/registry_error.h"
#include "registry/schema.h"
#include "registry/sqlite.h"

namespace mg::registry {
namespace {

using Code = RegistryError::Code;

std::atomic<uint64_t> next_registry_id{1};

std::string json_text(const boost::json::object& object) { return boost::json::serialize(object); }

void validate_config_json(const std::string& model, const std::string& config) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(config, ec);
  if (ec || !value.is_object()) {
    throw RegistryError(Code::kInvalidArgument, "model '" + model +
                                                    "': config must be a JSON object" +
                                                    (ec ? " (" + ec.message() + ")" : ""));
  }
}

bool transition_allowed(VersionState from, VersionState to) {
  using S = VersionState;
  switch (from) {
    case S::kRegistered:
      return to == S::kLoading || to == S::kRetired;
    case S::kLoading:
      return to == S::kReady || to == S::kFailed || to == S::kRegistered;
    case S::kReady:
      // failed: a loaded version that can no longer serve (its backend worker's restarts
      // gave up).
      return to == S::kRegistered || to == S::kRetired || to == S::kFailed;
    case S::kFailed:
      return to == S::kLoading || to == S::kRegistered || to == S::kRetired;
    case S::kRetired:
      return false;
  }
  return false;
}

std::string target_of(const std::string& model, int64_t version) {
  return model + "/" + std::to_string(version);
}

std::unique_ptr<sql::Database> open_database(const RegistryOptions& options) {
  if (!options.postgres_url.empty()) {
    return std::make_unique<sql::PostgresDatabase>(options.postgres_url);
  }
  return std::make_unique<sql::SqliteDatabase>(options.data_dir / "registry.db");
}

}  // namespace

Registry::Registry(RegistryOptions options)
    : options_(std::move(options)),
      lock_(options_.data_dir),
      store_(options_.data_dir / "artifacts"),
      db_(open_database(options_)),
      id_(next_registry_id++) {
  if (!options_.clock_ms) options_.clock_ms = system_time_ms;
  store_.set_keys(options_.artifact_keys);
  migrate(*db_);
  collect_garbage();  // also builds the first catalogue
  if (clustered()) watcher_ = std::thread([this] { watch_catalog(); });
}

Registry::~Registry() {
  if (watcher_.joinable()) {
    {
      std::lock_guard lock(stop_mutex_);
      stopping_ = true;
    }
    stop_cv_.notify_all();
    watcher_.join();
  }
}

int64_t Registry::now() const { return options_.clock_ms(); }

// ---- Reads ------------------------------------------------------------------------------

std::optional<ModelRecord> Registry::find_model(const std::string& name) const {
  const Catalog::Entry* entry = cached_catalog().find(name);
  if (entry == nullptr) return std::nullopt;
  return entry->model;
}

std::vector<ModelRecord> Registry::list_models() const {
  std::vector<ModelRecord> models;
  for (const auto& [name, entry] : cached_catalog().models) models.push_back(entry.model);
  std::sort(models.begin(), models.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return models;
}

std::optional<VersionRecord> Registry::find_version(const std::string& model,
                                                    int64_t version) const {
  const Catalog::Entry* entry = cached_catalog().find(model);
  if (entry == nullptr) return std::nullopt;
  auto it = entry->versions.find(version);
  if (it == entry->versions.end()) return std::nullopt;
  return it->second;
}

std::vector<VersionRecord> Registry::list_versions(const std::string& model) const {
  const Catalog::Entry* entry = cached_catalog().find(model);
  if (entry == nullptr) throw RegistryError(Code::kModelNotFound, "no model '" + model + "'");
  std::vector<VersionRecord> versions;
  for (const auto& [number, version] : entry->versions) versions.push_back(version);
  return versions;
}

std::vector<AliasRecord> Registry::list_aliases(const std::string& model) const {
  const Catalog::Entry* entry = cached_catalog().find(model);
  if (entry == nullptr) throw RegistryError(Code::kModelNotFound, "no model '" + model + "'");
  std::vector<AliasRecord> aliases;
  for (const auto& [alias, version] : entry->aliases) {
    AliasRecord record{model, alias, version, 0};
    if (auto split = entry->splits.find(alias); split != entry->splits.end()) {
      record.split = split->second;
    }
    aliases.push_back(std::move(record));
  }
  return aliases;
}

std::optional<int64_t> Registry::resolve(const std::string& model,
                                         const std::string& version_or_alias) const {
  return cached_catalog().resolve(model, version_or_alias);
}

// ---- Catalogue --------------------------------------------------------------------------

void Registry::reload_catalog() {
  int64_t catalog_version = 0;
  auto next = read_catalog(catalog_version);
  publish_catalog(std::move(next), catalog_version);
}

std::shared_ptr<Catalog> Registry::read_catalog(int64_t& catalog_version) {
  auto next = std::make_shared<Catalog>();
  // One snapshot of every table (a change committed meanwhile is seen whole or not at all).
  sql::Transaction snapshot(*db_, sql::Transaction::Kind::kRead);
  catalog_version = 0;
  if (clustered()) {
    auto version = db_->prepare("SELECT version FROM catalog_version");
    if (version.step()) catalog_version = version.column_int(0);
  }
  std::map<int64_t, std::string> names;
  auto models = db_->prepare(
      "SELECT id, name, backend, description, config, require_signature, next_version, "
      "created_at FROM models");
  while (models.step()) {
    ModelRecord m{models.column_int(0),  models.column_text(1), models.column_text(2),
                  models.column_text(3), models.column_text(4), models.column_int(5) != 0,
                  models.column_int(6),  models.column_int(7)};
    names[m.id] = m.name;
    auto& entry = next->models[m.name];
    entry.shadow = Shadow::from_config(m.config_json);
    entry.model = std::move(m);
  }
  auto versions = db_->prepare(
      "SELECT v.model_id, v.version, v.artifact, a.size, a.encrypted, v.state, v.state_reason, "
      "v.notes, v.created_at, v.updated_at FROM versions v JOIN artifacts a ON a.digest = "
      "v.artifact");
  while (versions.step()) {
    const std::string& model = names.at(versions.column_int(0));
    VersionRecord v;
    v.model = model;
    v.version = versions.column_int(1);
    v.artifact = versions.column_text(2);
    v.size = static_cast<uint64_t>(versions.column_int(3));
    v.encrypted = versions.column_int(4) != 0;
    v.state = state_from_name(versions.column_text(5)).value_or(VersionState::kFailed);
    v.state_reason = versions.column_text(6);
    v.notes = versions.column_text(7);
    v.created_at = versions.column_int(8);
    v.updated_at = versions.column_int(9);
    next->models[model].versions[v.version] = std::move(v);
  }
  auto files = db_->prepare("SELECT model_id, version, name, artifact FROM version_files");
  while (files.step()) {
    auto& versions_of = next->models[names.at(files.column_int(0))].versions;
    if (auto v = versions_of.find(files.column_int(1)); v != versions_of.end()) {
      v->second.files[files.column_text(2)] = files.column_text(3);
    }
  }
  auto aliases = db_->prepare("SELECT model_id, alias, version, sticky FROM aliases");
  while (aliases.step()) {
    next->models[names.at(aliases.column_int(0))].aliases[aliases.column_text(1)] =
        aliases.column_int(2);
  }
  auto weights = db_->prepare(
      "SELECT w.model_id, w.alias, w.version, w.weight, a.sticky FROM alias_weights w JOIN "
      "aliases a ON a.model_id = w.model_id AND a.alias = w.alias "
      "ORDER BY w.model_id, w.alias, w.position");
  while (weights.step()) {
    AliasSplit& split =
        next->models[names.at(weights.column_int(0))].splits[weights.column_text(1)];
    const auto weight = static_cast<uint32_t>(weights.column_int(3));
    split.versions.push_back(AliasWeight{weights.column_int(2), weight});
    split.total += weight;
    split.sticky = weights.column_int(4) != 0;
  }
  load_tenants_and_keys(*next);
  snapshot.commit();
  return next;
}

void Registry::publish_catalog(std::shared_ptr<Catalog> next, int64_t catalog_version) {
  catalog_version_ = catalog_version;
  next->generation = generation_.load() + 1;
  const uint64_t generation = next->generation;
  {
    std::lock_guard lock(catalog_mutex_);
    catalog_ = std::move(next);
  }
  generation_.store(generation, std::memory_order_release);
}

const Catalog& Registry::cached_catalog() const {
  struct Cache {
    uint64_t registry_id = 0;
    uint64_t generation = 0;
    std::shared_ptr<const Catalog> catalog;
  };
  thread_local Cache cache;
  if (cache.registry_id != id_ || cache.generation != generation_.load(std::memory_order_acquire)) {
    cache.catalog = catalog();
    cache.registry_id = id_;
    cache.generation = cache.catalog->generation;
  }
  return *cache.catalog;
}

// ---- Changes ----------------------------------------------------------------------------

void Registry::append_audit(const std::string& actor, const std::string& action,
                            const std::string& target, const std::string& details_json) {
  db_->prepare("INSERT INTO audit_log (time, actor, action, target, details) VALUES (?,?,?,?,?)")
      .bind(1, now())
      .bind(2, actor)
      .bind(3, action)
      .bind(4, target)
      .bind(5, details_json)
      .run();
  // Every audited change is a catalogue change but a refused request, which changes nothing.
  if (action != "admin.refused") announce_change();
}

int64_t Registry::model_id(const std::string& name) {
  auto statement = db_->prepare("SELECT id FROM models WHERE name = ?");
  statement.bind(1, name);
  if (!statement.step()) throw RegistryError(Code::kModelNotFound, "no model '" + name + "'");
  return statement.column_int(0);
}

VersionState Registry::stored_state(int64_t model_id, const std::string& model, int64_t version) {
  auto statement = db_->prepare("SELECT state FROM versions WHERE model_id = ? AND version = ?");
  statement.bind(1, model_id).bind(2, version);
  if (!statement.step()) {
    throw RegistryError(Code::kNotFound,
                        "model '" + model + "' has no version " + std::to_string(version));
  }
  return state_from_name(statement.column_text(0)).value_or(VersionState::kFailed);
}

ModelRecord Registry::create_model(const ModelSpec& spec, const std::string& actor) {
  validate_name("model", spec.name);
  if (is_reserved_model_name(spec.name)) {
    throw RegistryError(RegistryError::Code::kInvalidArgument,
                        "model name '" + spec.name +
                            "' is reserved: KServe v2 and Triton paths use it under /v2/models/");
  }
  validate_name("backend", spec.backend);
  validate_config_json(spec.name, spec.config_json);
  std::lock_guard lock(write_mutex_);
  {
    sql::Transaction transaction(*db_);
    auto existing = db_->prepare("SELECT 1 FROM models WHERE name = ?");
    existing.bind(1, spec.name);
    if (existing.step()) {
      throw RegistryError(Code::kAlreadyExists, "model '" + spec.name + "' already exists");
    }
    db_->prepare(
           "INSERT INTO models (name, backend, description, config, require_signature, "
           "created_at) VALUES (?,?,?,?,?,?)")
        .bind(1, spec.name)
        .bind(2, spec.backend)
        .bind(3, spec.description)
        .bind(4, spec.config_json)
        .bind(5, int64_t{spec.require_signature})
        .bind(6, now())
        .run();
    append_audit(actor, "model.create", spec.name,
                 json_text({{"backend", spec.backend},
                            {"config", boost::json::parse(spec.config_json)},
                            {"require_signature", spec.require_signature}}));
    transaction.commit();
  }
  reload_catalog();
  return *find_model(spec.name);
}

bool Registry::record_artifact(const StoredArtifact& artifact, bool refresh_created_at) {
  // What the file is, whatever the caller believes (identical content may have been
  // stored before, encrypted or not).
  const bool encrypted = store_.is_encrypted(artifact.digest);
  db_->prepare(std::string("INSERT INTO artifacts (digest, size, encrypted, present, created_at) "
                           "VALUES (?,?,?,1,?) ON CONFLICT(digest) DO UPDATE SET present = 1, "
                           "encrypted = excluded.encrypted") +
               (refresh_created_at ? ", created_at = excluded.created_at" : ""))
      .bind(1, artifact.digest)
      .bind(2, static_cast<int64_t>(artifact.size))
      .bind(3, int64_t{encrypted})
      .bind(4, now())
      .run();
  return encrypted;
}

void Registry::add_artifact(const StoredArtifact& artifact, const std::string& actor) {
  std::lock_guard lock(write_mutex_);
  {
    sql::Transaction transaction(*db_);
    if (!store_.contains(artifact.digest)) {
      throw RegistryError(Code::kNotFound,
                          "artifact " + artifact.digest + " is not in the store; upload it first");
    }
    // created_at is when it was last added: the grace period of collection counts from it.
    const bool encrypted = record_artifact(artifact, true);
    push_artifact(artifact.digest);
    append_audit(actor, "artifact.add", artifact.digest,
                 json_text({{"size", artifact.size}, {"encrypted", encrypted}}));
    transaction.commit();
  }
  reload_catalog();
}

VersionRecord Registry::add_version(const std::string& model, const StoredArtifact& artifact,
                                    const std::string& notes, const std::string& actor,
                                    bool encrypted,
                                    const std::map<std::string, std::string>& files) {
  for (const auto& [name, digest] : files) validate_file_name(name);
  std::lock_guard lock(write_mutex_);
  int64_t version = 0;
  {
    sql::Transaction transaction(*db_);
    int64_t id = model_id(model);
    // A version's files are artifacts added before it (add_artifact) and still stored.
    for (const auto& [name, digest] : files) {
      auto added = db_->prepare("SELECT present FROM artifacts WHERE digest = ?");
      added.bind(1, digest);
      if (!added.step() || added.column_int(0) == 0 || !store_.contains(digest)) {
        throw RegistryError(Code::kNotFound, "file '" + name + "': artifact " + digest +
                                                 " is not in the store; upload it first");
      }
    }
    // The file must already be durable: a version row never exists without its artifact.
    if (!store_.contains(artifact.digest)) {
      throw RegistryError(Code::kNotFound,
                          "artifact " + artifact.digest + " is not in the store; upload it first");
    }
    auto known = db_->prepare("SELECT size FROM artifacts WHERE digest = ?");
    known.bind(1, artifact.digest);
    if (known.step() && static_cast<uint64_t>(known.column_int(0)) != artifact.size) {
      throw RegistryError(Code::kConflict,
                          "artifact " + artifact.digest + " is recorded with another size");
    }
    encrypted = record_artifact(artifact, false);
    auto next = db_->prepare("SELECT next_version FROM models WHERE id = ?");
    next.bind(1, id);
    next.step();
    version = next.column_int(0);
    int64_t at = now();
    db_->prepare(
           "INSERT INTO versions (model_id, version, artifact, state, notes, created_at, "
           "updated_at) VALUES (?,?,?,'registered',?,?,?)")
        .bind(1, id)
        .bind(2, version)
        .bind(3, artifact.digest)
        .bind(4, notes)
        .bind(5, at)
        .bind(6, at)
        .run();
    push_artifact(artifact.digest);
    boost::json::object file_digests;
    for (const auto& [name, digest] : files) {
      db_->prepare("INSERT INTO version_files (model_id, version, name, artifact) VALUES (?,?,?,?)")
          .bind(1, id)
          .bind(2, version)
          .bind(3, name)
          .bind(4, digest)
          .run();
      file_digests[name] = digest;
    }
    db_->prepare("UPDATE models SET next_version = ? WHERE id = ?")
        .bind(1, version + 1)
        .bind(2, id)
        .run();
    append_audit(actor, "version.create", target_of(model, version),
                 json_text({{"artifact", artifact.digest},
                            {"size", artifact.size},
                            {"encrypted", encrypted},
                            {"notes", notes},
                            {"files", file_digests}}));
    transaction.commit();
  }
  reload_catalog();
  return *find_version(model, version);
}

void Registry::set_version_state(const std::string& model, int64_t version, VersionState state,
                                 const std::string& reason, const std::string& actor) {
  std::lock_guard lock(write_mutex_);
  {
    sql::Transaction transaction(*db_);
    int64_t id = model_id(model);
    const VersionState from = stored_state(id, model, version);
    if (!transition_allowed(from, state)) {
      throw RegistryError(Code::kConflict, "version " + target_of(model, version) + " is " +
                                               std::string(state_name(from)) +
                                               " and cannot become " +
                                               std::string(state_name(state)));
    }
    if (state == VersionState::kRetired) {
      auto aliased = db_->prepare(
          "SELECT alias FROM aliases WHERE model_id = ? AND version = ? "
          "UNION SELECT alias FROM alias_weights WHERE model_id = ? AND version = ?");
      aliased.bind(1, id).bind(2, version).bind(3, id).bind(4, version);
      if (aliased.step()) {
        throw RegistryError(Code::kConflict, "alias '" + aliased.column_text(0) + "' of model '" +
                                                 model + "' points at version " +
                                                 std::to_string(version) + "; move it first");
      }
    }
    db_->prepare(
           "UPDATE versions SET state = ?, state_reason = ?, updated_at = ? "
           "WHERE model_id = ? AND version = ?")
        .bind(1, state_name(state))
        .bind(2, state == VersionState::kFailed ? reason : std::string())
        .bind(3, now())
        .bind(4, id)
        .bind(5, version)
        .run();
    append_audit(
        actor, "version.state", target_of(model, version),
        json_text({{"from", state_name(from)}, {"to", state_name(state)}, {"reason", reason}}));
    transaction.commit();
  }
  if (state == VersionState::kRetired) release_unreferenced_blobs();
  reload_catalog();
}

void Registry::audit_refused_admin_request(const std::string& actor, const std::string& target,
                                           const std::string& details_json) {
  std::lock_guard lock(write_mutex_);
  append_audit(actor, "admin.refused", target, details_json);
}

// ---- Maintenance ------------------------------------------------------------------------

int Registry::release_unreferenced_blobs() {
  // Cluster mode: the rows describe the database's copies, released there; the files
  // below are only this replica's cache.
  if (clustered()) release_shared_blobs();
  std::set<std::string> live;
  auto referenced = db_->prepare(kLiveArtifacts);
  referenced.bind(1, now() - kUnreferencedArtifactGraceMs);
  while (referenced.step()) live.insert(referenced.column_text(0));
  int removed = 0;
  for (const std::string& digest : store_.list()) {
    if (live.count(digest)) continue;
    // Row first (present=0), then the file: a crash between leaves a file that the next
    // collection removes, never a row claiming a file that is gone.
    if (!clustered()) {
      db_->prepare("UPDATE artifacts SET present = 0 WHERE digest = ?").bind(1, digest).run();
    }
    store_.remove(digest);
    ++removed;
  }
  return removed;
}

CollectReport Registry::collect_garbage() {
  std::lock_guard lock(write_mutex_);
  CollectReport report;
  report.temp_files = store_.remove_temp_files();
  report.unreferenced_blobs = release_unreferenced_blobs();
  reload_catalog();
  return report;
}

std::vector<AuditEntry> Registry::audit_log(int64_t after_id, int limit) const {
  std::lock_guard lock(write_mutex_);
  auto statement = db_->prepare(
      "SELECT id, time, actor, action, target, details FROM audit_log WHERE id > ? "
      "ORDER BY id LIMIT ?");
  statement.bind(1, after_id).bind(2, int64_t{limit});
  std::vector<AuditEntry> entries;
  while (statement.step()) {
    entries.push_back(AuditEntry{statement.column_int(0), statement.column_int(1),
                                 statement.column_text(2), statement.column_text(3),
                                 statement.column_text(4), statement.column_text(5)});
  }
  return entries;
}

}  // namespace mg::registry
