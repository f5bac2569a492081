#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "gateway/plugin_host/backend_error.h"
#include "gateway/plugin_host/tensor.h"
#include "gateway/plugin_host/worker_messages.h"

namespace mg::gateway {

// The worker running a batch died (signal, exit) or missed the batch deadline and was
// killed; the message names the backend, the model and the cause.
class WorkerFailed : public BackendError {
 public:
  WorkerFailed(const std::string& message, std::string cause)
      : BackendError(kWorkerFailedCode, message), cause_(std::move(cause)) {}
  // "sigsegv", "sigabrt", "sigkill", …, "exit" or "deadline" (a metric label).
  const std::string& cause() const { return cause_; }

 private:
  std::string cause_;
};

// One modelgate-worker process (fork + exec) serving one loaded model version with the
// same plugin host code as the server (docs/architecture.md "Backends out of process").
// Each instance of the model is a lane: its own socket pair and its own two shared
// memory regions (inputs written by the server, outputs by the worker), mapped once and
// replaced only when a batch needs more room. Thread-safe: a lane serves one batch at a
// time, lanes run concurrently.
class WorkerProcess {
 public:
  struct Options {
    std::filesystem::path binary;  // modelgate-worker
    std::string backend;           // for messages
    std::chrono::milliseconds batch_timeout{30'000};
    std::chrono::milliseconds load_timeout{300'000};
  };

  // Starts the worker and loads the model in it. Throws BackendError with the plugin's
  // load failure, or WorkerFailed when the worker died or did not answer in time.
  static std::unique_ptr<WorkerProcess> start(const Options& options,
                                              const worker::LoadRequest& request,
                                              std::span<const std::byte> artifact);
  // Opens the plugin in a worker (its ABI checks and backend_init, confined by `sandbox`)
  // and returns what it declared, with the refusal if any. Throws WorkerFailed when the
  // worker died (a plugin crashing in its initialisation) or did not answer in time.
  static worker::LoadReply probe(const Options& options, const std::string& plugin_path,
                                 const std::string& backend_config, const worker::Sandbox& sandbox);
  // Kills the worker (if alive) and reaps it.
  ~WorkerProcess();
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;

  const ModelMetadata& metadata() const { return metadata_; }
  const std::string& backend_version() const { return backend_version_; }
  pid_t pid() const { return pid_; }
  std::size_t lanes() const { return lanes_.size(); }

  // Runs one batch on lane `lane`. Throws WorkerFailed when the worker dies or misses the
  // deadline (it is killed then); afterwards every call throws the same.
  BatchOutput execute(std::size_t lane, const BatchInput& batch);

  // Resident memory of the worker (from /proc), 0 when it is gone.
  uint64_t rss_bytes() const;

 private:
  struct Lane {
    int socket = -1;
    std::mutex mutex;
    worker::SharedMemory input;
    worker::SharedMemory output;
  };
  WorkerProcess(const Options& options, pid_t pid, int control);
  // Starts a worker and sends it `request`; `loaded` gets its reply.
  static std::unique_ptr<WorkerProcess> launch(const Options& options,
                                               const worker::LoadRequest& request,
                                               std::span<const std::byte> artifact,
                                               worker::LoadReply& loaded);
  // Kills the worker if it still runs, reaps it once, and returns the failure to throw.
  WorkerFailed fail(const std::string& why_if_alive, const std::string& cause_if_alive);
  // The same for a worker whose socket closed: waits briefly for it to be reapable first.
  WorkerFailed fail_once_exited(const std::string& why_if_alive, const std::string& cause_if_alive);
  std::string label() const;

  Options options_;
  std::string model_name_;
  pid_t pid_;
  int control_;
  std::vector<std::unique_ptr<Lane>> lanes_;
  ModelMetadata metadata_;
  std::string backend_version_;
  mutable std::mutex death_mutex_;
  bool reaped_ = false;
  std::string death_, death_cause_;
};

// The modelgate-worker binary beside the running executable (or MG_WORKER_BINARY).
std::filesystem::path default_worker_binary();

}  // namespace mg::gateway
