#include "gateway/serving/model_repository.h"

#include <openssl/crypto.h>

#include <boost/json.hpp>

#include "common/log.h"
#include "gateway/metrics/metrics.h"
#include "gateway/plugin_host/backend_error.h"
#include "registry/registry_error.h"

namespace mg::gateway {

namespace {

// Scheduling settings from the model's config JSON; absent or malformed keys keep defaults.
struct Scheduling {
  int instances = 1;
  BatcherOptions batcher;
};

Scheduling scheduling_of(const std::string& config_json) {
  Scheduling s;
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

}  // namespace

LoadedVersion::LoadedVersion(std::string model, int64_t version, std::shared_ptr<Model> loaded,
                             const std::string& config_json)
    : model_(std::move(model)), version_(version), loaded_(std::move(loaded)) {
  Scheduling scheduling = scheduling_of(config_json);
  for (int i = 0; i < scheduling.instances; ++i) {
    instances_.push_back(loaded_->create_instance(static_cast<uint32_t>(i)));
  }
  batcher_ = std::make_unique<DynamicBatcher>(
      loaded_->metadata(), [this](const BatchInput& batch) { return execute(batch); },
      scheduling.batcher, scheduling.instances);
}

BatchOutput LoadedVersion::execute(const BatchInput& batch) {
  Instance& instance = *instances_[next_.fetch_add(1) % instances_.size()];
  return instance.execute(batch);
}

namespace {

// Cluster mode: what every replica loads (see ModelRepository).
bool wanted(const registry::Catalog::Entry& entry, const registry::VersionRecord& version) {
  if (version.state == registry::VersionState::kReady) return true;
  for (const auto& [alias, number] : entry.aliases) {
    if (number == version.version) return version.state != registry::VersionState::kRetired;
  }
  return false;
}

}  // namespace

ModelRepository::ModelRepository(registry::Registry& registry, BackendManager& backends)
    : registry_(registry), backends_(backends) {
  if (registry_.clustered()) registry_.set_follower(this);
}

ModelRepository::~ModelRepository() {
  if (registry_.clustered()) registry_.set_follower(nullptr);
}

std::shared_ptr<LoadedVersion> ModelRepository::load(const std::string& model, int64_t version,
                                                     const std::string& actor) {
  if (auto existing = find(model, version)) return existing;
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
    auto backend = backends_.find(record.backend);
    if (!backend) {
      throw BackendError(MG_ERROR_NOT_FOUND, "backend '" + record.backend + "' is not available");
    }
    // The store checks the digest as it reads; the signature is checked here, on every
    // load, against the signers trusted now.
    registry_.fetch_artifact(version_record.artifact);  // cluster mode: into the local cache
    std::vector<std::byte> artifact = registry_.artifacts().read(version_record.artifact);
    if ((record.require_signature || require_signature_) &&
        !registry_.verified_signer(version_record.artifact)) {
      throw registry::RegistryError(
          registry::RegistryError::Code::kInvalidArgument,
          "version " + std::to_string(version) + " of model '" + model +
              "' has no valid signature from a trusted signer (artifact " +
              version_record.artifact + ")");
    }
    // The decrypted model is wiped once the backend has it, whether or not it loaded.
    struct Wipe {
      std::vector<std::byte>& bytes;
      ~Wipe() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
    } wipe{artifact};
    auto loaded = Model::load(backend, model + "/" + std::to_string(version), artifact,
                              registry_.artifacts().path_of(version_record.artifact).string(),
                              record.config_json);
    auto handle =
        std::make_shared<LoadedVersion>(model, version, std::move(loaded), record.config_json);
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
  std::lock_guard switching(switch_mutex_);  // one switch at a time
  load(model, version, actor);
  const std::optional<int64_t> previous = registry_.resolve(model, alias);
  registry_.set_alias(model, alias, version, actor);
  if (!previous || *previous == version) return;
  for (const auto& other : registry_.list_aliases(model)) {
    if (other.version == *previous) return;  // still served under another alias
  }
  unload(model, *previous, actor);
}

std::shared_ptr<LoadedVersion> ModelRepository::find(const std::string& model,
                                                     int64_t version) const {
  std::lock_guard lock(mutex_);
  auto it = loaded_.find({model, version});
  return it == loaded_.end() ? nullptr : it->second;
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
    for (const auto& alias : registry_.list_aliases(model.name)) {
      const std::string name = model.name + "/" + std::to_string(alias.version);
      try {
        load(model.name, alias.version, "system");
        log(LogLevel::kInfo, "loaded " + name + " (" + alias.alias + ")");
      } catch (const std::exception& e) {
        log(LogLevel::kError, "cannot load " + name + ": " + e.what());
      }
    }
  }
}

}  // namespace mg::gateway
