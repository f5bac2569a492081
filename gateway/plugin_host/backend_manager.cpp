#include "gateway/plugin_host/backend_manager.h"

#include <algorithm>
#include <system_error>
#include <utility>

#include "common/log.h"
#include "gateway/plugin_host/backend_error.h"
#include "gateway/plugin_host/worker_process.h"

namespace mg::gateway {
std::string_view state_name(BackendStatus::State state) {
  switch (state) {
    case BackendStatus::State::kReady:
      return "ready";
    case BackendStatus::State::kFailed:
      return "failed";
    case BackendStatus::State::kUnloaded:
      return "unloaded";
  }
  return "unknown";
}

Isolation default_isolation(const std::string& backend) {
  return backend == "cpu" ? Isolation::kInline : Isolation::kProcess;
}

void BackendManager::set_settings(std::map<std::string, BackendSettings> settings) {
  std::lock_guard lock(mutex_);
  settings_ = std::move(settings);
}

std::string BackendManager::init_config(const std::string& name) const {
  std::string config = config_for_ ? config_for_(name) : "{}";
  return config.empty() ? "{}" : config;
}

BackendSettings BackendManager::settings_for(const std::string& name) const {
  std::lock_guard lock(mutex_);
  const auto found = settings_.find(name);
  return found == settings_.end() ? BackendSettings{} : found->second;
}

Isolation BackendManager::isolation_for(const std::string& name) const {
  return settings_for(name).isolation.value_or(default_isolation(name));
}

BackendManager::BackendManager(ConfigFor config_for) : config_for_(std::move(config_for)) {}

void BackendManager::set_worker_binary(std::filesystem::path binary) {
  std::lock_guard lock(mutex_);
  worker_binary_ = std::move(binary);
}

void BackendManager::probe(const std::filesystem::path& path, BackendStatus& status) const {
  WorkerProcess::Options options;
  options.binary = worker_binary_;
  options.backend = status.name;
  options.load_timeout = std::chrono::seconds(60);  // a hung backend_init holds start-up
  try {
    const worker::LoadReply reply = WorkerProcess::probe(
        options, path.string(), init_config(status.name), settings_for(status.name).sandbox);
    status.version = reply.backend_version;
    status.abi_major = reply.abi_major;
    status.abi_minor = reply.abi_minor;
    if (reply.failure) {
      status.reason = reply.failure->message;
    } else {
      status.state = BackendStatus::State::kReady;
    }
  } catch (const BackendError& e) {  // the worker died or hung: the plugin's doing
    status.reason = path.string() + ": " + e.what();
  }
}

void BackendManager::discover(const std::vector<std::filesystem::path>& directories) {
  for (const auto& directory : directories) {
    std::error_code ec;
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(directory, ec)) {
      if (!backend_name_from_file(entry.path()).empty()) files.push_back(entry.path());
    }
    if (ec) {
      log(LogLevel::kWarn, "plugin directory " + directory.string() + ": " + ec.message());
      continue;
    }
    std::sort(files.begin(), files.end());  // a stable order whatever the file system's
    for (const auto& file : files) load(file);
  }
}

BackendStatus BackendManager::load(const std::filesystem::path& path) {
  BackendStatus status;
  status.name = backend_name_from_file(path);
  status.path = path;
  if (const auto provider = plugin_path(status.name)) {
    status.reason = "backend '" + status.name + "' is already provided by " + provider->string();
  }
  std::shared_ptr<Backend> backend;
  bool in_worker = false;
  {
    std::lock_guard lock(mutex_);
    in_worker = !worker_binary_.empty();
  }
  in_worker = in_worker && isolation_for(status.name) == Isolation::kProcess;
  if (status.reason.empty() && in_worker) {
    probe(path, status);
  } else if (status.reason.empty()) {
    Backend::Declared declared;
    try {
      backend = Backend::open(path, init_config(status.name), &declared);
      status.state = BackendStatus::State::kReady;
    } catch (const BackendError& e) {
      status.reason = e.what();
    }
    // What the plugin declared, also when it was refused (e.g. its init failed).
    status.version = declared.version;
    status.abi_major = declared.abi_major;
    status.abi_minor = declared.abi_minor;
  }
  if (status.state == BackendStatus::State::kReady) {
    log(LogLevel::kInfo,
        "backend '" + status.name + "' " + status.version + " (ABI " +
            std::to_string(status.abi_major) + "." + std::to_string(status.abi_minor) + ") " +
            (backend ? "loaded from " : "checked in a worker process: ") + path.string());
  } else {
    log(LogLevel::kError, "backend refused: " + status.reason);
  }
  std::lock_guard lock(mutex_);
  if (backend) ready_[status.name] = std::move(backend);
  if (!backend && status.state == BackendStatus::State::kReady) probed_[status.name] = path;
  statuses_.push_back(status);
  return status;
}

std::shared_ptr<Backend> BackendManager::open_inline(const std::string& name) {
  std::lock_guard lock(mutex_);
  if (auto it = ready_.find(name); it != ready_.end()) return it->second;
  auto probed = probed_.find(name);
  if (probed == probed_.end()) return nullptr;
  try {
    auto backend = Backend::open(probed->second, init_config(name));
    log(LogLevel::kInfo, "backend '" + name + "' opened in the server for a model run inline");
    ready_[name] = backend;
    return backend;
  } catch (const BackendError& e) {
    log(LogLevel::kError, "backend '" + name + "' could not be opened inline: " + e.what());
    return nullptr;
  }
}

std::optional<std::filesystem::path> BackendManager::plugin_path(const std::string& name) const {
  std::lock_guard lock(mutex_);
  if (auto it = ready_.find(name); it != ready_.end()) return it->second->path();
  if (auto it = probed_.find(name); it != probed_.end()) return it->second;
  return std::nullopt;
}

std::shared_ptr<Backend> BackendManager::find(const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto it = ready_.find(name);
  return it == ready_.end() ? nullptr : it->second;
}

std::vector<BackendStatus> BackendManager::statuses() const {
  std::lock_guard lock(mutex_);
  return statuses_;
}

BackendStatus* BackendManager::status_for(const std::string& name) {
  for (auto& status : statuses_) {
    if (status.name == name && status.state == BackendStatus::State::kReady) return &status;
  }
  return nullptr;
}

void BackendManager::unload(const std::string& name) {
  std::shared_ptr<Backend> backend;
  {
    std::lock_guard lock(mutex_);
    if (probed_.erase(name) > 0 && ready_.count(name) == 0) {
      // Never opened here: nothing to finalise (models already in workers keep theirs).
      if (BackendStatus* status = status_for(name)) {
        status->state = BackendStatus::State::kUnloaded;
      }
      log(LogLevel::kInfo, "backend '" + name + "' unloaded");
      return;
    }
    auto it = ready_.find(name);
    if (it == ready_.end()) {
      throw BackendError(MG_ERROR_NOT_FOUND, "no ready backend '" + name + "'");
    }
    if (int models = it->second->loaded_models(); models > 0) {
      throw BackendError(MG_ERROR_UNAVAILABLE, "backend '" + name + "' has " +
                                                   std::to_string(models) +
                                                   " loaded model(s); unload them first");
    }
    backend = std::move(it->second);
    ready_.erase(it);
    if (BackendStatus* status = status_for(name)) status->state = BackendStatus::State::kUnloaded;
  }
  // Finalise and close outside the lock: backend_fini may take its time.
  backend.reset();
  log(LogLevel::kInfo, "backend '" + name + "' unloaded");
}

}  // namespace mg::gateway
