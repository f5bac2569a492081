#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "plugin_host/backend.h"
#include "plugin_host/backend_manager.h"
#include "registry/registry.h"

namespace mg::gateway {

// One model version loaded on its backend, with its execution instances.
class LoadedVersion {
 public:
  LoadedVersion(std::string model, int64_t version, std::shared_ptr<Model> loaded, int instances);
  const std::string& model() const { return model_; }
  int64_t version() const { return version_; }
  const ModelMetadata& metadata() const { return loaded_->metadata(); }
  const std::string& backend() const { return loaded_->backend().name(); }

  // Runs one batch on the next instance (round robin; each instance serialises its own
  // calls when the backend is not reentrant). Throws BackendError for a malformed batch.
  BatchOutput execute(const BatchInput& batch);

 private:
  std::string model_;
  int64_t version_;
  std::shared_ptr<Model> loaded_;
  std::vector<std::unique_ptr<Instance>> instances_;
  std::atomic<uint64_t> next_{0};
};

// The versions this server has loaded, keyed by (model, version). Loading reads the
// artifact from the registry (digest verified), loads it on the model's backend, and
// records the state in the registry (loading → ready | failed, with the reason).
// Thread-safe; lookups take a short lock and return a shared handle, so a version being
// unloaded finishes the requests that hold it.
class ModelRepository {
 public:
  ModelRepository(registry::Registry& registry, BackendManager& backends);

  // Throws BackendError / RegistryError; the registry records a failure's reason.
  std::shared_ptr<LoadedVersion> load(const std::string& model, int64_t version,
                                      const std::string& actor);
  void unload(const std::string& model, int64_t version, const std::string& actor);
  std::shared_ptr<LoadedVersion> find(const std::string& model, int64_t version) const;

 private:
  registry::Registry& registry_;
  BackendManager& backends_;
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int64_t>, std::shared_ptr<LoadedVersion>> loaded_;
};

}  // namespace mg::gateway
