#include "gateway/serving/model_repository.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <boost/json.hpp>
#include <thread>

#include "common/log.h"
#include "gateway/metrics/metrics.h"
#include "gateway/plugin_host/backend_error.h"
#include "registry/registry_error.h"

namespace mg::gateway {

Scheduling scheduling_of(const std::string& config_json) {
  Scheduling s;
  s.instances = default_instances();
  boost::system::error_code ec;
  auto value = boost::json::parse(config_json, ec);
  if (ec || !value.is_object()) return s;
  const auto& o = value.as_object();
  auto integer = [&](const char* key, int64_t lo, int64_t hi) -> std::optional<int64_t> {
    const auto* v = o.if_contains(key);
    if (v && v->is_int64() && v->as_int64() >= lo && v->as_int64() <= hi) return v->as_int64();
    return std::nullopt;
  };
  if (auto n = integer("instances", 1, 64)) s.instances = static_cast<int>(*n);
  if (auto us = integer("max_queue_delay_us", 0, 10'000'000)) {
    s.batcher.max_queue_delay = std::chrono::microseconds(*us);
  }
  if (auto n = integer("max_queue", 1, 1 << 20)) s.batcher.max_queue = static_cast<std::size_t>(*n);
  if (const auto* sizes = o.if_contains("preferred_batch_sizes"); sizes && sizes->is_array()) {
    for (const auto& size : sizes->as_array()) {
      if (size.is_int64() && size.as_int64() > 0)
        s.batcher.preferred_batch_sizes.push_back(size.as_int64());
    }
  }
  return s;
}

// A model config's overrides of its backend's settings: "isolation" ("inline" or
// "process") and "batch_timeout_ms". Loads refuse malformed ones (check_model_overrides);
// here they keep the backend's.
BackendSettings settings_for_model(const BackendManager& backends, const std::string& backend,
                                   const std::string& config_json) {
  BackendSettings settings = backends.settings_for(backend);
  boost::system::error_code ec;
  auto value = boost::json::parse(config_json, ec);
  if (ec || !value.is_object()) return settings;
  const auto& o = value.as_object();
  if (const auto* v = o.if_contains("isolation"); v && v->is_string()) {
    if (v->as_string() == "inline") settings.isolation = Isolation::kInline;
    if (v->as_string() == "process") settings.isolation = Isolation::kProcess;
  }
  if (const auto* v = o.if_contains("batch_timeout_ms");
      v && v->is_int64() && v->as_int64() > 0 && v->as_int64() <= 86'400'000) {
    settings.batch_timeout = std::chrono::milliseconds(v->as_int64());
  }
  return settings;
}

void check_model_overrides(const std::string& config_json) {
  boost::system::error_code ec;
  auto value = boost::json::parse(config_json, ec);
  if (ec || !value.is_object()) return;
  const auto& o = value.as_object();
  if (const auto* v = o.if_contains("isolation");
      v && !(v->is_string() && (v->as_string() == "inline" || v->as_string() == "process"))) {
    throw BackendError(MG_ERROR_INVALID_ARGUMENT,
                       "model config: \"isolation\" must be \"inline\" or \"process\"");
  }
  if (const auto* v = o.if_contains("batch_timeout_ms");
      v && !(v->is_int64() && v->as_int64() > 0 && v->as_int64() <= 86'400'000)) {
    throw BackendError(MG_ERROR_INVALID_ARGUMENT,
                       "model config: \"batch_timeout_ms\" must be an integer from 1 to 86400000");
  }
}

Isolation isolation_for_model(const BackendManager& backends, const std::string& backend,
                              const std::string& config_json) {
  return settings_for_model(backends, backend, config_json)
      .isolation.value_or(default_isolation(backend));
}

int instances_of(const std::string& config_json) { return scheduling_of(config_json).instances; }

int default_instances() {
  // One per core, so every socket thread can run a small model's request at once (the
  // inline path needs a free instance): +10-20 % req/s for the seed MLP at 64 connections
  // on 2 cores (bench/RESULTS.md "Speed"). At most 4: instances beyond that mostly add
  // memory (each keeps its own workspace).
  const unsigned cores = std::thread::hardware_concurrency();
  return static_cast<int>(std::clamp(cores, 1u, 4u));
}

LoadedVersion::LoadedVersion(std::string model, int64_t version, std::string backend,
                             std::unique_ptr<ModelRunner> runner, const std::string& config_json,
                             const std::map<std::string, std::string>& files)
    : model_(std::move(model)),
      version_(version),
      backend_(std::move(backend)),
      runner_(std::move(runner)),
      scheduling_(scheduling_of(config_json)) {
  try {
    preprocessing_ = preprocessing_of(config_json, runner_->metadata(), files);
    postprocessing_ = std::make_shared<const Postprocessing>(
        postprocessing_of(config_json, runner_->metadata(), files));
  } catch (const std::invalid_argument& e) {  // the load fails with this as its reason
    throw BackendError(MG_ERROR_INVALID_ARGUMENT, e.what());
  }
  ModelRunner* runner_ptr = runner_.get();
  batcher_ = std::make_unique<DynamicBatcher>(
      runner_->metadata(),
      [runner_ptr](const BatchInput& batch) { return runner_ptr->execute(batch); },
      scheduling_.batcher, scheduling_.instances);
  batcher_->set_observer([this](uint64_t rows, std::chrono::nanoseconds compute) {
    stats_->record_batch();
    if (batch_observer_) batch_observer_(rows, compute);
  });
}

namespace {

// Cluster mode: what every replica loads (see ModelRepository).
bool wanted(const registry::Catalog::Entry& entry, const registry::VersionRecord& version) {
  if (version.state == registry::VersionState::kReady) return true;
  return entry.aliased(version.version) && version.state != registry::VersionState::kRetired;
}

}  // namespace

std::unique_ptr<ModelRunner> ModelRepository::start_in_worker(
    const std::string& backend, const std::filesystem::path& plugin, const std::string& label,
    const std::string& artifact_digest, std::span<const std::byte> artifact,
    const std::string& artifact_path, const std::string& config_json,
    const BackendSettings& settings, const std::string& model, int64_t version) {
  WorkerProcess::Options options;
  options.binary = worker_binary_;
  options.backend = backend;
  options.batch_timeout = settings.batch_timeout;
  worker::LoadRequest request;
  request.plugin_path = plugin.string();
  request.backend_config = backends_.init_config(backend);
  request.model_name = label;
  request.artifact_path = artifact_path;
  request.model_config = config_json;
  request.instances = static_cast<uint32_t>(instances_of(config_json));
  request.sandbox = settings.sandbox;
  // A restart reads the model again (verified against its digest as it is read).
  registry::Registry* registry = &registry_;
  auto source = [registry, artifact_digest] {
    registry->fetch_artifact(artifact_digest);
    return registry->artifacts().read(artifact_digest);
  };
  // The first start uses the bytes already read and checked.
  bool first = true;
  std::vector<std::byte> first_bytes(artifact.begin(), artifact.end());
  auto artifact_source = [source, first, first_bytes]() mutable {
    if (first) {
      first = false;
      return std::move(first_bytes);
    }
    return source();
  };
  return std::make_unique<ProcessRunner>(
      options, request, std::move(artifact_source), settings.restarts,
      [this, model, version](const WorkerEvent& event) { on_worker_event(model, version, event); });
}

void ModelRepository::on_worker_event(const std::string& model, int64_t version,
                                      const WorkerEvent& event) {
  switch (event.kind) {
    case WorkerEvent::Kind::kDied:
      log(LogLevel::kError, event.message + "; restarting it");
      if (metrics_ != nullptr) metrics_->count_worker_death(model, version, event.cause);
      break;
    case WorkerEvent::Kind::kRestarted:
      log(LogLevel::kInfo, event.message);
      if (metrics_ != nullptr) metrics_->count_worker_restart(model, version);
      break;
    case WorkerEvent::Kind::kGaveUp:
      log(LogLevel::kError, event.message);
      // One replica's crashing worker does not fail the version for the whole cluster.
      if (!registry_.clustered()) {
        try {
          registry_.set_version_state(model, version, registry::VersionState::kFailed,
                                      event.message, "system");
        } catch (const std::exception& e) {
          log(LogLevel::kError, "cannot record the failure of " + model + "/" +
                                    std::to_string(version) + ": " + e.what());
        }
      }
      break;
  }
  generation_.fetch_add(1, std::memory_order_release);  // readiness changed
}

ModelRepository::ModelRepository(registry::Registry& registry, BackendManager& backends)
    : registry_(registry), backends_(backends) {
  if (registry_.clustered()) registry_.set_follower(this);
}

ModelRepository::~ModelRepository() {
  if (registry_.clustered()) registry_.set_follower(nullptr);
}

std::shared_ptr<LoadedVersion> ModelRepository::load(const std::string& model, int64_t version,
                                                     const std::string& actor) {
  if (auto existing = find(model, version)) {
    if (!existing->failed()) return existing;
    // Its worker's restarts gave up: loading it again starts afresh.
    std::lock_guard lock(mutex_);
    const auto it = loaded_.find({model, version});
    if (it != loaded_.end() && it->second == existing) loaded_.erase(it);
    generation_.fetch_add(1, std::memory_order_release);
  }
  auto record = registry_.find_model(model);
  auto version_record = registry_.find_version(model, version);
  if (!record || !version_record) {
    throw registry::RegistryError(
        registry::RegistryError::Code::kNotFound,
        "no version " + std::to_string(version) + " of model '" + model + "'");
  }
  // Cluster mode: a version another replica loaded is ready already; this one follows.
  const bool record_state =
      !(registry_.clustered() && version_record->state == registry::VersionState::kReady);
  return load_version(*record, *version_record, actor, record_state);
}

std::shared_ptr<LoadedVersion> ModelRepository::load_version(
    const registry::ModelRecord& record, const registry::VersionRecord& version_record,
    const std::string& actor, bool record_state) {
  const std::string& model = record.name;
  const int64_t version = version_record.version;
  std::lock_guard loading(load_mutex_);  // two callers never load the same version twice
  if (auto existing = find(model, version)) return existing;
  if (record_state) {
    registry_.set_version_state(model, version, registry::VersionState::kLoading, "", actor);
  }
  try {
    // A misspelt isolation must not quietly run a plugin inline.
    check_model_overrides(record.config_json);
    const BackendSettings settings =
        settings_for_model(backends_, record.backend, record.config_json);
    const Isolation isolation = settings.isolation.value_or(default_isolation(record.backend));
    // Inline: the plugin opened in this process; in a worker: only its file.
    std::shared_ptr<Backend> backend;
    std::optional<std::filesystem::path> plugin;
    if (isolation == Isolation::kInline) {
      backend = backends_.open_inline(record.backend);
    } else {
      plugin = backends_.plugin_path(record.backend);
    }
    if (!backend && !plugin) {
      throw BackendError(MG_ERROR_NOT_FOUND, "backend '" + record.backend + "' is not available");
    }
    // The store checks the digest as it reads; the signature is checked here, on every
    // load, against the signers trusted now.
    registry_.fetch_artifact(version_record.artifact);  // cluster mode: into the local cache
    std::vector<std::byte> artifact = registry_.artifacts().read(version_record.artifact);
    const bool signed_only = record.require_signature || require_signature_;
    if (signed_only && !registry_.verified_signer(version_record.artifact)) {
      throw registry::RegistryError(
          registry::RegistryError::Code::kInvalidArgument,
          "version " + std::to_string(version) + " of model '" + model +
              "' has no valid signature from a trusted signer (artifact " +
              version_record.artifact + ")");
    }
    // Its files (a vocabulary, labels) are read, verified and signature-checked alike.
    std::map<std::string, std::string> files;
    for (const auto& [name, digest] : version_record.files) {
      registry_.fetch_artifact(digest);
      const std::vector<std::byte> bytes = registry_.artifacts().read(digest);
      if (signed_only && !registry_.verified_signer(digest)) {
        throw registry::RegistryError(
            registry::RegistryError::Code::kInvalidArgument,
            "the file '" + name + "' of version " + std::to_string(version) + " of model '" +
                model + "' has no valid signature from a trusted signer (artifact " + digest + ")");
      }
      files[name].assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    }
    // The decrypted model is wiped once the backend has it, whether or not it loaded.
    struct Wipe {
      std::vector<std::byte>& bytes;
      ~Wipe() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
    } wipe{artifact};
    const std::string label = model + "/" + std::to_string(version);
    const std::string artifact_path =
        registry_.artifacts().path_of(version_record.artifact).string();
    std::unique_ptr<ModelRunner> runner;
    if (isolation == Isolation::kInline) {
      runner = std::make_unique<InlineRunner>(
          Model::load(backend, label, artifact, artifact_path, record.config_json),
          instances_of(record.config_json));
    } else {
      runner = start_in_worker(record.backend, *plugin, label, version_record.artifact, artifact,
                               artifact_path, record.config_json, settings, model, version);
    }
    auto handle = std::make_shared<LoadedVersion>(model, version, record.backend, std::move(runner),
                                                  record.config_json, files);
    if (metrics_ != nullptr) {
      Metrics* metrics = metrics_;
      handle->observe_batches([metrics, model, version](uint64_t rows, std::chrono::nanoseconds t) {
        metrics->observe_batch(model, version, rows, std::chrono::duration<double>(t).count());
      });
    }
    {
      std::lock_guard lock(mutex_);
      loaded_[{model, version}] = handle;
      generation_.fetch_add(1, std::memory_order_release);
    }
    if (record_state) {
      registry_.set_version_state(model, version, registry::VersionState::kReady, "", actor);
    }
    return handle;
  } catch (const std::exception& e) {
    if (record_state) {
      registry_.set_version_state(model, version, registry::VersionState::kFailed, e.what(), actor);
    }
    throw;
  }
}

void ModelRepository::unload(const std::string& model, int64_t version, const std::string& actor) {
  std::shared_ptr<LoadedVersion> handle;
  {
    std::lock_guard lock(mutex_);
    auto it = loaded_.find({model, version});
    if (it == loaded_.end()) return;
    handle = std::move(it->second);
    loaded_.erase(it);
    generation_.fetch_add(1, std::memory_order_release);
  }
  registry_.set_version_state(model, version, registry::VersionState::kRegistered, "", actor);
}

void ModelRepository::switch_alias(const std::string& model, const std::string& alias,
                                   int64_t version, const std::string& actor) {
  switch_alias_split(model, alias, {registry::AliasWeight{version, 1}}, false, actor);
}

void ModelRepository::switch_alias_split(const std::string& model, const std::string& alias,
                                         const std::vector<registry::AliasWeight>& versions,
                                         bool sticky, const std::string& actor) {
  std::lock_guard switching(switch_mutex_);  // one switch at a time
  for (const auto& v : versions) load(model, v.version, actor);
  std::vector<int64_t> previous;
  if (const auto* entry = registry_.snapshot().find(model)) previous = entry->alias_versions(alias);
  registry_.set_alias_split(model, alias, versions, sticky, actor);
  std::vector<int64_t> left;  // decided before unloading: unload() moves the snapshot on
  if (const auto* entry = registry_.snapshot().find(model)) {
    for (int64_t old : previous) {
      if (!entry->aliased(old)) left.push_back(old);  // else still served under an alias
    }
  }
  for (int64_t old : left) unload(model, old, actor);
}

std::shared_ptr<LoadedVersion> ModelRepository::find(const std::string& model,
                                                     int64_t version) const {
  std::lock_guard lock(mutex_);
  auto it = loaded_.find({model, version});
  return it == loaded_.end() ? nullptr : it->second;
}

std::vector<ServerState::ShadowState> ModelRepository::shadows() const {
  std::vector<ServerState::ShadowState> out;
  const registry::Catalog& catalog = registry_.snapshot();
  for (const auto& [name, entry] : catalog.models) {
    if (!entry.shadow) continue;
    const auto candidate = find(name, entry.shadow->version);
    if (candidate == nullptr) continue;
    const ShadowStats::Snapshot c = candidate->shadow_stats()->snapshot();
    out.push_back({name, entry.shadow->version, c.requests, c.errors, c.dropped, c.rows, c.agreed,
                   c.max_abs_diff});
  }
  return out;
}

std::vector<ServerState::WorkerState> ModelRepository::workers() const {
  std::vector<std::shared_ptr<LoadedVersion>> loaded;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [key, handle] : loaded_) loaded.push_back(handle);
  }
  std::vector<ServerState::WorkerState> out;
  for (const auto& handle : loaded) {  // /proc reads outside the lock
    if (handle->isolation() != Isolation::kProcess) continue;
    out.push_back({handle->model(), handle->version(), handle->worker_rss_bytes()});
  }
  return out;
}

void ModelRepository::load_wanted(const registry::Catalog& catalog) {
  std::size_t failures = 0;
  for (const auto& [name, entry] : catalog.models) {
    for (const auto& [number, version] : entry.versions) {
      if (!wanted(entry, version) || find(name, number) != nullptr) continue;
      const std::string label = name + "/" + std::to_string(number);
      try {
        load_version(entry.model, version, "system", false);
        log(LogLevel::kInfo, "loaded " + label + " (following the cluster's catalogue)");
      } catch (const std::exception& e) {
        ++failures;
        log(LogLevel::kError, "cannot load " + label + ": " + e.what());
      }
    }
  }
  follow_failures_.store(failures);
}

void ModelRepository::prepare(const registry::Catalog& next) { load_wanted(next); }

void ModelRepository::settled() {
  const registry::Catalog& catalog = registry_.snapshot();
  std::vector<std::shared_ptr<LoadedVersion>> dropped;  // released outside the lock
  {
    std::lock_guard lock(mutex_);
    for (auto it = loaded_.begin(); it != loaded_.end();) {
      const auto* entry = catalog.find(it->first.first);
      const bool keep = entry != nullptr && entry->versions.count(it->first.second) > 0 &&
                        wanted(*entry, entry->versions.at(it->first.second));
      if (keep) {
        ++it;
        continue;
      }
      log(LogLevel::kInfo, "unloading " + it->first.first + "/" + std::to_string(it->first.second) +
                               " (following the cluster's catalogue)");
      dropped.push_back(std::move(it->second));
      it = loaded_.erase(it);
      generation_.fetch_add(1, std::memory_order_release);
    }
  }
}

void ModelRepository::restore() {
  // Cluster mode: the states are the cluster's, not this process's leftovers.
  if (registry_.clustered()) {
    load_wanted(*registry_.catalog());
    return;
  }
  for (const auto& model : registry_.list_models()) {
    for (const auto& v : registry_.list_versions(model.name)) {
      if (v.state == registry::VersionState::kReady ||
          v.state == registry::VersionState::kLoading) {
        registry_.set_version_state(model.name, v.version, registry::VersionState::kRegistered, "",
                                    "system");
      }
    }
  }
  for (const auto& model : registry_.list_models()) {
    // A shadow candidate is served (copies of requests) as an alias's versions are.
    if (const auto shadow = registry::Shadow::from_config(model.config_json)) {
      try {
        load(model.name, shadow->version, "system");
      } catch (const std::exception& e) {
        log(LogLevel::kError, "cannot load the shadow " + model.name + "/" +
                                  std::to_string(shadow->version) + ": " + e.what());
      }
    }
    for (const auto& alias : registry_.list_aliases(model.name)) {
      std::vector<int64_t> versions{alias.version};
      if (alias.split) {
        for (const auto& w : alias.split->versions) versions.push_back(w.version);
      }
      for (int64_t version : versions) {
        if (find(model.name, version) != nullptr) continue;
        const std::string name = model.name + "/" + std::to_string(version);
        try {
          load(model.name, version, "system");
          log(LogLevel::kInfo, "loaded " + name + " (" + alias.alias + ")");
        } catch (const std::exception& e) {
          log(LogLevel::kError, "cannot load " + name + ": " + e.what());
        }
      }
    }
  }
}

}  // namespace mg::gateway
