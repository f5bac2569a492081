#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "gateway/plugin_host/backend.h"
#include "gateway/plugin_host/model_runner.h"

namespace mg::gateway {

// What the host knows about one plugin file: shown by `mgctl backend list`.
struct BackendStatus {
  enum class State { kReady, kFailed, kUnloaded };
  std::string name;  // from the file name libmg_<name>.so
  std::filesystem::path path;
  State state = State::kFailed;
  std::string reason;   // why it failed ("" when ready)
  std::string version;  // the backend's own version ("" unless it got that far)
  uint32_t abi_major = 0;
  uint32_t abi_minor = 0;
};

std::string_view state_name(BackendStatus::State state);

// How the server runs a backend's models (server config [backends.NAME]; a model's config
// may override `isolation` and `batch_timeout_ms`). docs/operations.md "Backend isolation".
struct BackendSettings {
  std::optional<Isolation> isolation;  // nullopt: default_isolation(name)
  worker::Sandbox sandbox;
  std::chrono::milliseconds batch_timeout{30'000};
  RestartPolicy restarts;
};

// The reference CPU backend runs inline; any other plugin in a worker process.
Isolation default_isolation(const std::string& backend);

// Finds, loads and tracks backends. A plugin that cannot be used is recorded as failed
// with its reason and logged; the host carries on. Thread-safe.
class BackendManager {
 public:
  // Backend config JSON per backend name; backends without an entry get "{}".
  using ConfigFor = std::function<std::string(const std::string& name)>;

  explicit BackendManager(ConfigFor config_for = nullptr);

  // Loads every libmg_<name>.so found directly in each directory, in order. The first
  // file providing a name wins; a later one with the same name is recorded as failed.
  // Missing directories are logged and skipped.
  void discover(const std::vector<std::filesystem::path>& directories);

  // Loads one plugin file; returns its status (also kept in statuses()).
  BackendStatus load(const std::filesystem::path& path);

  // With a worker binary set, a plugin whose backend runs out of process (isolation_for)
  // is opened at discovery only in a worker that answers and exits (WorkerProcess::probe):
  // a plugin that crashes or hangs in its initialisation is recorded as failed, and the
  // server never runs its code. Without one (the default), every plugin is opened here.
  void set_worker_binary(std::filesystem::path binary);

  // The backend called `name` opened in this process, or nullptr (also when it was only
  // probed in a worker).
  std::shared_ptr<Backend> find(const std::string& name) const;
  // The same, opening a probed plugin in this process first: for a model whose config
  // asks for inline (its owner trusts the plugin). nullptr when not ready or it fails.
  std::shared_ptr<Backend> open_inline(const std::string& name);
  // The file of the ready backend called `name` (opened here or probed), for a worker.
  std::optional<std::filesystem::path> plugin_path(const std::string& name) const;

  // Every plugin file seen, in discovery order.
  std::vector<BackendStatus> statuses() const;

  // The JSON config backend_init gets ("{}" when none).
  std::string init_config(const std::string& name) const;
  // Settings per backend name (those not named get the defaults).
  void set_settings(std::map<std::string, BackendSettings> settings);
  BackendSettings settings_for(const std::string& name) const;
  // The isolation a backend's models get unless their config says otherwise.
  Isolation isolation_for(const std::string& name) const;

  // Drops the host's reference to a ready backend so it is finalised and closed. Refused
  // (BackendError, MG_ERROR_UNAVAILABLE) while any of its models is loaded.
  void unload(const std::string& name);

 private:
  BackendStatus* status_for(const std::string& name);

  // Opens the plugin in a worker; fills status (ready, or the reason).
  void probe(const std::filesystem::path& path, BackendStatus& status) const;

  ConfigFor config_for_;
  std::filesystem::path worker_binary_;
  mutable std::mutex mutex_;
  std::vector<BackendStatus> statuses_;
  std::map<std::string, std::shared_ptr<Backend>> ready_;
  std::map<std::string, std::filesystem::path> probed_;  // ready, opened only in a worker
  std::map<std::string, BackendSettings> settings_;
};

}  // namespace mg::gateway
