#include "serving/model_repository.h"

#include <boost/json.hpp>

#include "plugin_host/backend_error.h"
#include "registry/registry_error.h"

namespace mg::gateway {

LoadedVersion::LoadedVersion(std::string model, int64_t version, std::shared_ptr<Model> loaded,
                             int instances)
    : model_(std::move(model)), version_(version), loaded_(std::move(loaded)) {
  for (int i = 0; i < std::max(instances, 1); ++i) {
    instances_.push_back(loaded_->create_instance(static_cast<uint32_t>(i)));
  }
}

BatchOutput LoadedVersion::execute(const BatchInput& batch) {
  Instance& instance = *instances_[next_.fetch_add(1) % instances_.size()];
  return instance.execute(batch);
}

ModelRepository::ModelRepository(registry::Registry& registry, BackendManager& backends)
    : registry_(registry), backends_(backends) {}

namespace {

// "instances" from the model's config JSON (default 1).
int instance_count(const std::string& config_json) {
  boost::system::error_code ec;
  auto value = boost::json::parse(config_json, ec);
  if (ec || !value.is_object()) return 1;
  const auto* n = value.as_object().if_contains("instances");
  return n && n->is_int64() && n->as_int64() > 0 && n->as_int64() <= 64
             ? static_cast<int>(n->as_int64())
             : 1;
}

}  // namespace

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
  registry_.set_version_state(model, version, registry::VersionState::kLoading, "", actor);
  try {
    auto backend = backends_.find(record->backend);
    if (!backend) {
      throw BackendError(MG_ERROR_NOT_FOUND, "backend '" + record->backend + "' is not available");
    }
    std::vector<std::byte> artifact = registry_.artifacts().read(version_record->artifact);
    auto loaded = Model::load(backend, model + "/" + std::to_string(version), artifact,
                              registry_.artifacts().path_of(version_record->artifact).string(),
                              record->config_json);
    auto handle = std::make_shared<LoadedVersion>(model, version, std::move(loaded),
                                                  instance_count(record->config_json));
    {
      std::lock_guard lock(mutex_);
      loaded_[{model, version}] = handle;
    }
    registry_.set_version_state(model, version, registry::VersionState::kReady, "", actor);
    return handle;
  } catch (const std::exception& e) {
    registry_.set_version_state(model, version, registry::VersionState::kFailed, e.what(), actor);
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
  }
  registry_.set_version_state(model, version, registry::VersionState::kRegistered, "", actor);
}

std::shared_ptr<LoadedVersion> ModelRepository::find(const std::string& model,
                                                     int64_t version) const {
  std::lock_guard lock(mutex_);
  auto it = loaded_.find({model, version});
  return it == loaded_.end() ? nullptr : it->second;
}

}  // namespace mg::gateway
