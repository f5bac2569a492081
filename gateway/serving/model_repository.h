#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "gateway/metrics/metrics.h"
#include "gateway/plugin_host/backend.h"
#include "gateway/plugin_host/backend_manager.h"
#include "gateway/plugin_host/model_runner.h"
#include "gateway/preprocess/classification.h"
#include "gateway/preprocess/preprocessing.h"
#include "gateway/serving/batcher.h"
#include "gateway/serving/shadow_runner.h"
#include "gateway/serving/shadow_stats.h"
#include "gateway/serving/version_stats.h"
#include "registry/registry.h"

namespace mg::gateway {

class Metrics;

// Scheduling settings from a model's config JSON; absent or malformed keys keep defaults.
struct Scheduling {
  int instances = 1;  // default_instances() unless the config says
  BatcherOptions batcher;
};
Scheduling scheduling_of(const std::string& config_json);

// One model version loaded on its backend, with its execution instances.
class LoadedVersion {
 public:
  // config_json: the model config; "max_queue_delay_us", "preferred_batch_sizes" and
  // "max_queue" shape the scheduling ("instances" is the runner's: instances_of);
  // "preprocess" names the inputs a request may send raw, "postprocess" the outputs' class
  // labels; `files` are the version's files (name → contents: a vocabulary, labels) they
  // may name. Throws BackendError (invalid argument) for either not fitting the model.
  LoadedVersion(std::string model, int64_t version, std::string backend,
                std::unique_ptr<ModelRunner> runner, const std::string& config_json,
                const std::map<std::string, std::string>& files = {});
  const std::string& model() const { return model_; }
  int64_t version() const { return version_; }
  const ModelMetadata& metadata() const { return runner_->metadata(); }
  const std::string& backend() const { return backend_; }
  Isolation isolation() const { return runner_->isolation(); }
  // False while its worker restarts, or after restarts gave up (then it is failed).
  bool ready() const { return runner_->ready(); }
  // Its worker's restarts gave up: load() replaces it.
  bool failed() const { return runner_->failed(); }
  uint64_t worker_rss_bytes() const { return runner_->worker_rss_bytes(); }

  // Queues one request on the dynamic batcher (see DynamicBatcher::submit).
  std::future<RequestResult> submit(std::vector<TensorRef> inputs,
                                    std::vector<std::string> outputs) {
    return batcher_->submit(std::move(inputs), std::move(outputs));
  }
  DynamicBatcher::Submitted submit_cancellable(std::vector<TensorRef> inputs,
                                               std::vector<std::string> outputs) {
    return batcher_->submit_cancellable(std::move(inputs), std::move(outputs));
  }
  bool cancel(uint64_t ticket) { return batcher_->cancel(ticket); }
  // Queues one request whose result goes to `done` (see DynamicBatcher::submit_async).
  void submit_async(std::vector<TensorRef> inputs, std::vector<std::string> outputs,
                    std::chrono::steady_clock::time_point deadline, DynamicBatcher::Done done) {
    batcher_->submit_async(std::move(inputs), std::move(outputs), deadline, std::move(done));
  }
  // Runs requests a socket thread gathered (see DynamicBatcher::run_gathered).
  void run_gathered(std::span<DynamicBatcher::Gathered> requests) {
    batcher_->run_gathered(requests);
  }
  const DynamicBatcher& batcher() const { return *batcher_; }
  // Also told about every batch (metrics); set before the version takes requests.
  void observe_batches(DynamicBatcher::BatchObserver observer) {
    batch_observer_ = std::move(observer);
  }
  // Its statistics since it was loaded (shared: a request's record may outlive an unload).
  const std::shared_ptr<VersionStats>& stats() const { return stats_; }
  // As a shadow candidate: how its answers compared with the served ones.
  const std::shared_ptr<ShadowStats>& shadow_stats() const { return shadow_stats_; }
  // What its config asked for, as its batcher and instances run it.
  const Scheduling& scheduling() const { return scheduling_; }
  // Its inputs that a request may send raw (the config's "preprocess").
  const Preprocessing& preprocessing() const { return preprocessing_; }
  // Its outputs' class labels (the config's "postprocess").
  const std::shared_ptr<const Postprocessing>& postprocessing() const { return postprocessing_; }

 private:
  std::string model_;
  int64_t version_;
  std::string backend_;
  std::unique_ptr<ModelRunner> runner_;
  Scheduling scheduling_;
  Preprocessing preprocessing_;
  std::shared_ptr<const Postprocessing> postprocessing_;
  std::shared_ptr<VersionStats> stats_ = std::make_shared<VersionStats>();
  std::shared_ptr<ShadowStats> shadow_stats_ = std::make_shared<ShadowStats>();
  DynamicBatcher::BatchObserver batch_observer_;
  std::unique_ptr<DynamicBatcher> batcher_;  // last: stopped before the runner goes
};

// A backend's settings with a model config's overrides: "isolation" ("inline" or
// "process") and "batch_timeout_ms".
BackendSettings settings_for_model(const BackendManager& backends, const std::string& backend,
                                   const std::string& config_json);
// Throws BackendError (invalid argument) when the config's "isolation" or
// "batch_timeout_ms" is present but malformed: a load then fails with that reason.
void check_model_overrides(const std::string& config_json);
// Where a model's plugin code runs (shown by `mgctl model show`).
Isolation isolation_for_model(const BackendManager& backends, const std::string& backend,
                              const std::string& config_json);

// The "instances" of a model config (1 to 64; default_instances() when absent or malformed).
int instances_of(const std::string& config_json);
// Instances of a model whose config does not say: the machine's cores, at most 4.
int default_instances();

// The versions this server has loaded, keyed by (model, version). Loading reads the
// artifact from the registry (digest verified), loads it on the model's backend, and
// records the state in the registry (loading → ready | failed, with the reason).
// Thread-safe; lookups take a short lock and return a shared handle, so a version being
// unloaded finishes the requests that hold it.
//
// Cluster mode (a registry on PostgreSQL): the registry's version states are shared by the
// replicas. A version is wanted on every replica when an alias points at it or its state
// is ready (loaded through the admin API of any replica). The repository follows the
// other replicas' changes: it loads what a new catalogue wants before that catalogue
// becomes the replica's snapshot, so a promote elsewhere never routes a request here to a
// version not loaded yet, and unloads what is no longer wanted once it is published.
// Loads and unloads done while following do not write states: the replica that acted did.
class ModelRepository : private registry::Registry::Follower {
 public:
  ModelRepository(registry::Registry& registry, BackendManager& backends);
  ~ModelRepository() override;

  // Throws BackendError / RegistryError; the registry records a failure's reason.
  std::shared_ptr<LoadedVersion> load(const std::string& model, int64_t version,
                                      const std::string& actor);
  void unload(const std::string& model, int64_t version, const std::string& actor);

  // A version switch (docs/contracts.md "Version switches"): loads `version` first, flips `alias`
  // to it in one registry transaction, then unloads the version the alias left unless
  // another alias still holds it. Requests already holding the old version finish on it
  // (its handle drains them); new ones resolve to the new version. No request fails
  // because of a switch. Throws (and changes nothing) when the new version cannot load.
  void switch_alias(const std::string& model, const std::string& alias, int64_t version,
                    const std::string& actor);
  // The same for a weighted alias (a canary): every version of the split is loaded first,
  // and the versions the alias no longer reaches are unloaded unless another alias does.
  void switch_alias_split(const std::string& model, const std::string& alias,
                          const std::vector<registry::AliasWeight>& versions, bool sticky,
                          const std::string& actor);
  std::shared_ptr<LoadedVersion> find(const std::string& model, int64_t version) const;
  // Where the copies sent to shadow candidates run: after the caller's answer, at idle
  // CPU priority.
  ShadowRunner& shadow_runner() { return shadow_runner_; }
  // Each model's loaded shadow candidate and its comparison so far (metrics).
  std::vector<ServerState::ShadowState> shadows() const;
  // At start-up: versions a previous process left ready or loading go back to registered
  // (nothing is loaded now), then every version an alias points at is loaded. A version
  // that fails to load is logged and recorded as failed; the others still load.
  void restore();
  // Every loaded version run out of process, with its worker's resident memory.
  std::vector<ServerState::WorkerState> workers() const;
  // Cluster mode: how many wanted versions this replica could not load (readiness).
  std::size_t failed_follower_loads() const { return follow_failures_.load(); }
  // Increases with every load and unload (readiness answers are cached against it).
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  // Server-wide signature policy (config `require_signature`): every load then needs a
  // valid signature from a trusted signer, as models created with require_signature do.
  void set_require_signature(bool required) { require_signature_ = required; }
  // Batch sizes and compute times of versions loaded from now on go to these metrics.
  void set_metrics(Metrics* metrics) { metrics_ = metrics; }
  // The modelgate-worker binary for backends run out of process.
  void set_worker_binary(std::filesystem::path binary) { worker_binary_ = std::move(binary); }
  bool require_signature() const { return require_signature_; }

 private:
  // Registry::Follower (cluster mode).
  void prepare(const registry::Catalog& next) override;
  void settled() override;
  // Loads one version described by `model`/`version`; record_state: write the
  // loading → ready | failed states (not when following another replica's change).
  std::shared_ptr<LoadedVersion> load_version(const registry::ModelRecord& model,
                                              const registry::VersionRecord& version,
                                              const std::string& actor, bool record_state);
  // A version whose backend runs out of process: its runner with a worker started.
  std::unique_ptr<ModelRunner> start_in_worker(
      const std::string& backend, const std::filesystem::path& plugin, const std::string& label,
      const std::string& artifact_digest, std::span<const std::byte> artifact,
      const std::string& artifact_path, const std::string& config_json,
      const BackendSettings& settings, const std::string& model, int64_t version);
  // A worker died, came back, or its restarts stopped: log, metrics, readiness.
  void on_worker_event(const std::string& model, int64_t version, const WorkerEvent& event);
  // Cluster mode: loads every version `catalog` wants that is not loaded here.
  void load_wanted(const registry::Catalog& catalog);

  registry::Registry& registry_;
  BackendManager& backends_;
  mutable std::mutex mutex_;  // guards loaded_
  std::mutex switch_mutex_;   // serialises version switches
  std::mutex load_mutex_;     // serialises loads (taken inside switch_mutex_, never around it)
  std::map<std::pair<std::string, int64_t>, std::shared_ptr<LoadedVersion>> loaded_;
  std::atomic<bool> require_signature_{false};
  std::atomic<uint64_t> generation_{0};
  std::atomic<std::size_t> follow_failures_{0};
  Metrics* metrics_ = nullptr;
  std::filesystem::path worker_binary_ = default_worker_binary();
  // Last: stopped first, while the versions its queued copies hold are still served.
  ShadowRunner shadow_runner_;
};

}  // namespace mg::gateway
