#include "gateway/serving/server_state.h"

namespace mg::gateway {

std::vector<ServerState::VersionState> RegistryServerState::versions() const {
  std::vector<VersionState> out;
  for (const auto& model : registry_.list_models()) {
    for (const auto& v : registry_.list_versions(model.name)) {
      if (v.state == registry::VersionState::kRetired) continue;
      out.push_back({model.name, v.version, std::string(registry::state_name(v.state))});
    }
  }
  return out;
}

std::vector<ServerState::BackendState> RegistryServerState::backends() const {
  std::vector<BackendState> out;
  for (const auto& b : backends_.statuses()) {
    out.push_back({b.name, b.version,
                   std::to_string(b.abi_major) + "." + std::to_string(b.abi_minor),
                   std::string(state_name(b.state))});
  }
  return out;
}

std::vector<ServerState::Dependency> RegistryServerState::dependencies() const {
  std::vector<Dependency> out;
  if (registry_.clustered()) out.push_back({"postgres", registry_.synced()});
  if (redis_up_) out.push_back({"redis", redis_up_()});
  return out;
}

}  // namespace mg::gateway
