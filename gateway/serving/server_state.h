#pragma once

#include <functional>

#include "gateway/metrics/metrics.h"
#include "gateway/plugin_host/backend_manager.h"
#include "registry/registry.h"

namespace mg::gateway {

// The metrics' view of the server (ServerState) read from the registry's catalogue and the
// plugin host's backend list. Both must outlive it.
class RegistryServerState : public ServerState {
 public:
  RegistryServerState(const registry::Registry& registry, const BackendManager& backends)
      : registry_(registry), backends_(backends) {}
  std::vector<VersionState> versions() const override;
  std::vector<BackendState> backends() const override;
  // postgres (cluster mode: the registry's catalogue check) and, once set, redis.
  std::vector<Dependency> dependencies() const override;
  void set_redis_probe(std::function<bool()> up) { redis_up_ = std::move(up); }
  std::vector<WorkerState> workers() const override {
    return workers_ ? workers_() : std::vector<WorkerState>{};
  }
  void set_worker_probe(std::function<std::vector<WorkerState>()> workers) {
    workers_ = std::move(workers);
  }
  std::vector<ShadowState> shadows() const override {
    return shadows_ ? shadows_() : std::vector<ShadowState>{};
  }
  void set_shadow_probe(std::function<std::vector<ShadowState>()> shadows) {
    shadows_ = std::move(shadows);
  }

 private:
  std::function<bool()> redis_up_;
  std::function<std::vector<WorkerState>()> workers_;
  std::function<std::vector<ShadowState>()> shadows_;
  const registry::Registry& registry_;
  const BackendManager& backends_;
};

}  // namespace mg::gateway
