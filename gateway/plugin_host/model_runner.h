#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gateway/plugin_host/backend.h"
#include "gateway/plugin_host/worker_process.h"

namespace mg::gateway {

// Where a model's plugin code runs: in the server ("inline") or in a worker process.
enum class Isolation { kInline, kProcess };
std::string_view isolation_name(Isolation isolation);

// A loaded model and its execution instances, wherever they run. execute picks the next
// instance (round robin); it is thread-safe.
class ModelRunner {
 public:
  virtual ~ModelRunner() = default;
  virtual const ModelMetadata& metadata() const = 0;
  virtual BatchOutput execute(const BatchInput& batch) = 0;
  virtual Isolation isolation() const = 0;
  // False while a worker is being restarted or after restarts gave up.
  virtual bool ready() const { return true; }
  // True once a worker's restarts gave up: only loading the version again brings it back.
  virtual bool failed() const { return false; }
  // Resident memory of the model's worker; 0 inline.
  virtual uint64_t worker_rss_bytes() const { return 0; }
};

// In the server's process: the plugin's model and instances called directly.
class InlineRunner : public ModelRunner {
 public:
  InlineRunner(std::shared_ptr<Model> model, int instances);
  const ModelMetadata& metadata() const override { return model_->metadata(); }
  BatchOutput execute(const BatchInput& batch) override;
  Isolation isolation() const override { return Isolation::kInline; }

 private:
  std::shared_ptr<Model> model_;
  std::vector<std::unique_ptr<Instance>> instances_;
  std::atomic<uint64_t> next_{0};
};

// When a worker is restarted, and when restarts stop.
struct RestartPolicy {
  int max_failures = 5;  // in `window`: then the model is failed
  std::chrono::seconds window{300};
  std::chrono::milliseconds first_delay{100};  // doubled per failure in the window
  std::chrono::milliseconds max_delay{30'000};
};

// What a process runner tells its owner (logs, metrics, the registry's state).
struct WorkerEvent {
  enum class Kind { kDied, kRestarted, kGaveUp };
  Kind kind;
  std::string message;  // names the backend, the model and the cause
  std::string cause;    // kDied: the WorkerFailed cause
};

// In a worker process (WorkerProcess), restarted when it dies: a death fails the batches
// in flight (WorkerFailed), the runner is not ready until a new worker has loaded the
// model, restarts back off exponentially, and after `max_failures` in `window` they stop
// (kGaveUp: the model is failed until loaded again).
class ProcessRunner : public ModelRunner {
 public:
  // Reads the model's bytes again for a restart (decrypted; wiped by the runner after).
  using ArtifactSource = std::function<std::vector<std::byte>()>;
  using Observer = std::function<void(const WorkerEvent&)>;

  // Starts the first worker; throws what its load throws (BackendError, WorkerFailed).
  ProcessRunner(WorkerProcess::Options options, worker::LoadRequest request,
                ArtifactSource artifact, RestartPolicy policy, Observer observer);
  ~ProcessRunner() override;

  const ModelMetadata& metadata() const override { return metadata_; }
  BatchOutput execute(const BatchInput& batch) override;
  Isolation isolation() const override { return Isolation::kProcess; }
  bool ready() const override;
  bool failed() const override;
  uint64_t worker_rss_bytes() const override;
  // The current worker's pid (0 while none runs): for tests.
  pid_t worker_pid() const;
  uint64_t restarts() const { return restarts_.load(); }

 private:
  std::unique_ptr<WorkerProcess> start_worker();
  void on_failure(const std::shared_ptr<WorkerProcess>& process, const WorkerFailed& failure);
  void supervise();

  WorkerProcess::Options options_;
  worker::LoadRequest request_;
  ArtifactSource artifact_;
  RestartPolicy policy_;
  Observer observer_;
  ModelMetadata metadata_;
  std::atomic<uint64_t> next_{0};
  std::atomic<uint64_t> restarts_{0};

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::shared_ptr<WorkerProcess> current_;                      // null while restarting or failed
  std::deque<std::chrono::steady_clock::time_point> failures_;  // within the window
  bool restart_wanted_ = false;
  bool gave_up_ = false;
  bool stopping_ = false;
  std::thread supervisor_;  // last: started once everything above is set
};

}  // namespace mg::gateway
