#include "gateway/plugin_host/model_runner.h"

#include <cstring>

#include "common/log.h"

namespace mg::gateway {
namespace {

bool same_tensors(const std::vector<TensorDesc>& a, const std::vector<TensorDesc>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || a[i].dtype != b[i].dtype || a[i].shape != b[i].shape)
      return false;
  }
  return true;
}

bool same_metadata(const ModelMetadata& a, const ModelMetadata& b) {
  return same_tensors(a.inputs, b.inputs) && same_tensors(a.outputs, b.outputs) &&
         a.max_batch_size == b.max_batch_size && a.execute_reentrant == b.execute_reentrant;
}

}  // namespace

std::string_view isolation_name(Isolation isolation) {
  return isolation == Isolation::kInline ? "inline" : "process";
}

InlineRunner::InlineRunner(std::shared_ptr<Model> model, int instances) : model_(std::move(model)) {
  for (int i = 0; i < std::max(1, instances); ++i) {
    instances_.push_back(model_->create_instance(static_cast<uint32_t>(i)));
  }
}

BatchOutput InlineRunner::execute(const BatchInput& batch) {
  return instances_[next_.fetch_add(1) % instances_.size()]->execute(batch);
}

ProcessRunner::ProcessRunner(WorkerProcess::Options options, worker::LoadRequest request,
                             ArtifactSource artifact, RestartPolicy policy, Observer observer)
    : options_(std::move(options)),
      request_(std::move(request)),
      artifact_(std::move(artifact)),
      policy_(policy),
      observer_(std::move(observer)) {
  std::unique_ptr<WorkerProcess> first = start_worker();
  metadata_ = first->metadata();
  current_ = std::move(first);
  supervisor_ = std::thread([this] { supervise(); });
}

ProcessRunner::~ProcessRunner() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  supervisor_.join();
}

std::unique_ptr<WorkerProcess> ProcessRunner::start_worker() {
  std::vector<std::byte> bytes = artifact_();
  struct Wipe {
    std::vector<std::byte>& bytes;
    ~Wipe() { ::explicit_bzero(bytes.data(), bytes.size()); }
  } wipe{bytes};
  return WorkerProcess::start(options_, request_, bytes);
}

BatchOutput ProcessRunner::execute(const BatchInput& batch) {
  std::shared_ptr<WorkerProcess> process;
  {
    std::lock_guard lock(mutex_);
    process = current_;
  }
  if (!process) {
    throw BackendError(kWorkerRestartingCode,
                       "backend '" + options_.backend + "' has no worker for model '" +
                           request_.model_name + "' right now (restarting after a failure)");
  }
  try {
    return process->execute(next_.fetch_add(1), batch);
  } catch (const WorkerFailed& failure) {
    on_failure(process, failure);
    throw;
  }
}

void ProcessRunner::on_failure(const std::shared_ptr<WorkerProcess>& process,
                               const WorkerFailed& failure) {
  {
    std::lock_guard lock(mutex_);
    if (current_ != process) return;  // another batch of the same worker reported it
    current_.reset();
    restart_wanted_ = true;
  }
  if (observer_) observer_({WorkerEvent::Kind::kDied, failure.what(), failure.cause()});
  wake_.notify_all();
}

void ProcessRunner::supervise() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || restart_wanted_; });
    if (stopping_) break;
    const auto now = std::chrono::steady_clock::now();
    failures_.push_back(now);
    while (!failures_.empty() && now - failures_.front() > policy_.window) failures_.pop_front();
    if (static_cast<int>(failures_.size()) >= policy_.max_failures) {
      restart_wanted_ = false;
      gave_up_ = true;
      const std::string message =
          "backend '" + options_.backend + "': model '" + request_.model_name + "' failed " +
          std::to_string(failures_.size()) + " times within " +
          std::to_string(policy_.window.count()) + " s; no more restarts until it is loaded again";
      lock.unlock();
      if (observer_) observer_({WorkerEvent::Kind::kGaveUp, message, ""});
      lock.lock();
      continue;
    }
    // 100 ms, 200 ms, 400 ms, … per failure in the window, at most max_delay.
    auto delay =
        policy_.first_delay * (int64_t{1} << std::min<std::size_t>(failures_.size() - 1, 20));
    delay = std::min<std::chrono::milliseconds>(delay, policy_.max_delay);
    if (wake_.wait_for(lock, delay, [&] { return stopping_; })) break;
    lock.unlock();
    std::unique_ptr<WorkerProcess> fresh;
    std::string why;
    try {
      fresh = start_worker();
      if (!same_metadata(fresh->metadata(), metadata_)) {
        fresh.reset();
        why = "the restarted worker declared different metadata";
      }
    } catch (const std::exception& e) {
      why = e.what();
    }
    lock.lock();
    if (stopping_) break;
    if (fresh) {
      current_ = std::move(fresh);
      restart_wanted_ = false;
      restarts_.fetch_add(1);
      const std::string message = "backend '" + options_.backend + "': model '" +
                                  request_.model_name + "' serves again (worker " +
                                  std::to_string(current_->pid()) + ")";
      lock.unlock();
      if (observer_) observer_({WorkerEvent::Kind::kRestarted, message, ""});
      lock.lock();
    } else {
      log(LogLevel::kError, "backend '" + options_.backend + "': restarting model '" +
                                request_.model_name + "' failed: " + why);
      // restart_wanted_ stays: the loop counts it as a failure and backs off.
    }
  }
}

bool ProcessRunner::ready() const {
  std::lock_guard lock(mutex_);
  return current_ != nullptr;
}

bool ProcessRunner::failed() const {
  std::lock_guard lock(mutex_);
  return gave_up_;
}

uint64_t ProcessRunner::worker_rss_bytes() const {
  std::shared_ptr<WorkerProcess> process;
  {
    std::lock_guard lock(mutex_);
    process = current_;
  }
  return process ? process->rss_bytes() : 0;
}

pid_t ProcessRunner::worker_pid() const {
  std::lock_guard lock(mutex_);
  return current_ ? current_->pid() : 0;
}

}  // namespace mg::gateway
