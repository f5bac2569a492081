#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "registry/artifact_signature.h"
#include "registry/artifact_store.h"
#include "registry/data_dir_lock.h"
#include "registry/records.h"
#include "registry/sql.h"

namespace mg::registry {

struct RegistryOptions {
  // Embedded mode: holds registry.db and artifacts/. Cluster mode: this replica's own
  // directory, holding only the local cache of artifacts/.
  std::filesystem::path data_dir;
  WallClock clock_ms;  // defaults to the system clock (common/clock.h)
  // Encryption at rest: new artifacts are encrypted under the first key, reads use any
  // (more than one only while a master key rotation is under way). Empty: plaintext.
  std::vector<DataKey> artifact_keys;
  // Cluster mode when not empty: the catalogue (and the artifacts' bytes) live in this
  // PostgreSQL database, shared by every replica (docs/operations.md "Cluster mode").
  std::string postgres_url;
};

// What collect_garbage() removed.
struct CollectReport {
  int temp_files = 0;          // leftovers of interrupted uploads
  int unreferenced_blobs = 0;  // artifact files no live (non-retired) version needs
};

// The model registry: the SQLite catalogue of models, versions, aliases, artifacts,
// signers and the audit log, plus the artifact store beside it.
//
// One process owns a data dir at a time (an flock on <dir>/registry.lock enforces it).
// Within it, every change is one SQLite transaction that also appends its audit entry,
// serialised by a mutex; after each change the in-memory Catalog is rebuilt and swapped,
// so lookups (catalog(), resolve(), find_*) never touch SQLite or wait for a writer.
//
// Crash safety: an artifact is durable under its final name before the version row that
// references it is inserted, so a crash leaves at worst an unreferenced file, which the
// next open collects (see collect_garbage for the policy).
//
// Errors are RegistryError; names are validated (registry/names.h) before any use.
//
// Cluster mode (options.postgres_url): the same registry on PostgreSQL, one catalogue
// shared by every replica. Writers on different replicas take turns (an advisory lock per
// transaction); every change bumps a catalogue version and NOTIFYs the others, whose
// watcher thread reloads their snapshot (and checks the version every second, since a
// NOTIFY sent while a connection is down is lost). Artifacts' bytes are stored in the
// database too; artifacts() is then this replica's local cache of them (fetch_artifact).
class Registry {
 public:
  explicit Registry(RegistryOptions options);
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  ArtifactStore& artifacts() { return store_; }

  // ---- Reads: from the in-memory catalogue -------------------------------------------
  // A stable snapshot to hold on to. The lookups below are cheaper on the request path:
  // they read a per-thread cached snapshot and touch no shared reference count.
  std::shared_ptr<const Catalog> catalog() const {
    std::lock_guard lock(catalog_mutex_);
    return catalog_;
  }
  std::optional<ModelRecord> find_model(const std::string& name) const;
  std::vector<ModelRecord> list_models() const;
  std::optional<VersionRecord> find_version(const std::string& model, int64_t version) const;
  std::vector<VersionRecord> list_versions(const std::string& model) const;
  std::vector<AliasRecord> list_aliases(const std::string& model) const;
  // "3" or an alias → a version number; nullopt when the model, version or alias is unknown.
  std::optional<int64_t> resolve(const std::string& model,
                                 const std::string& version_or_alias) const;
  // This thread's cached snapshot, for hot-path lookups (API keys on every request).
  // Valid until this thread's next call into the registry; copy what must live longer.
  const Catalog& snapshot() const { return cached_catalog(); }
  std::optional<TenantRecord> find_tenant(const std::string& name) const;
  std::vector<TenantRecord> list_tenants() const;
  // Keys (revoked ones included), of one tenant when `tenant` is not empty.
  std::vector<KeyRecord> list_keys(const std::string& tenant = "") const;

  // ---- Changes: each one transaction with its audit entry; `actor` is a key id ---------
  ModelRecord create_model(const ModelSpec& spec, const std::string& actor);

  // Registers a new version of `model` for an artifact already committed to artifacts().
  // The version number is the model's next, never reused. encrypted records how the
  // artifact is stored.
  // `files` names the other files the version carries (name → digest of an artifact
  // added with add_artifact): a vocabulary, labels. Names as validate_file_name says.
  VersionRecord add_version(const std::string& model, const StoredArtifact& artifact,
                            const std::string& notes, const std::string& actor,
                            bool encrypted = false,
                            const std::map<std::string, std::string>& files = {});
  // Records an artifact committed to artifacts() that no version references yet (a
  // version's file, uploaded before the version). It is kept for
  // kUnreferencedArtifactGraceMs without a version, then collected like any other.
  void add_artifact(const StoredArtifact& artifact, const std::string& actor);
  static constexpr int64_t kUnreferencedArtifactGraceMs = 24 * 3600 * 1000;

  // Allowed: registered → loading | retired; loading → ready | failed | registered;
  // ready → registered (unloaded) | retired; failed → loading | registered | retired.
  // Retiring a version an alias points at is refused (kConflict); retiring releases the
  // artifact file unless another live version uses it.
  void set_version_state(const std::string& model, int64_t version, VersionState state,
                         const std::string& reason, const std::string& actor);

  // Points alias at version (creating or moving it) in one transaction. The version must
  // exist and not be retired.
  void set_alias(const std::string& model, const std::string& alias, int64_t version,
                 const std::string& actor);
  // Points alias at several versions with shares of its requests (a canary), the first
  // being its own (stable) version; sticky: split by API key rather than per request. One
  // version is set_alias. Audited alias.split. Weights 1..1000000; no version twice.
  void set_alias_split(const std::string& model, const std::string& alias,
                       const std::vector<AliasWeight>& versions, bool sticky,
                       const std::string& actor);
  static constexpr std::size_t kMaxSplitVersions = 8;
  void remove_alias(const std::string& model, const std::string& alias, const std::string& actor);

  // Tenants and keys (registry_tenants.cpp). Key ids and secret material come from the
  // caller (the gateway's auth component, which holds the master key).
  TenantRecord create_tenant(const std::string& name, int64_t quota_limit, QuotaPeriod period,
                             const std::string& actor);
  void set_tenant_quota(const std::string& name, int64_t quota_limit, QuotaPeriod period,
                        const std::string& actor);
  KeyRecord add_key(const KeyRecord& key, const std::string& actor);
  // Stores new hashes and sealed secrets for existing keys (master key rotation), in one
  // transaction with one audit entry.
  void replace_key_secrets(const std::vector<KeyRecord>& keys, const std::string& actor);
  // Effective on the next lookup: the catalogue is rebuilt before this returns.
  void revoke_key(const std::string& id, const std::string& actor);
  // Audits an admin request that was refused (401/403): action "admin.refused", the key id
  // it named (or "anonymous") as actor, "METHOD path" as target, `details_json` the reason.
  // Changes nothing else; the caller bounds how often this is called.
  void audit_refused_admin_request(const std::string& actor, const std::string& target,
                                   const std::string& details_json);

  // Usage metering (registry_usage.cpp): adds the deltas to their rows in one
  // transaction. Not audited: these are counters, not changes.
  void add_usage(const std::vector<UsageRow>& usage, const std::vector<QuotaRow>& quota);
  // Adds one batch of usage deltas named by `batch_id` exactly once: returns false (and
  // adds nothing) when a batch of that id was added before, by this replica or another.
  // Ids are remembered for kUsageBatchMemorySeconds.
  bool add_usage_batch(const std::string& batch_id, const std::vector<UsageRow>& usage);
  static constexpr int64_t kUsageBatchMemorySeconds = 30 * 86400;
  // Rows with since <= hour < until (unix seconds; until 0 = no end), of one tenant when
  // not empty, ordered by hour, tenant, key, model, version.
  std::vector<UsageRow> usage(const std::string& tenant, int64_t since, int64_t until) const;
  // Quota counters of periods starting at or after `since`.
  std::vector<QuotaRow> quota_usage(int64_t since) const;

  void add_signer(const std::string& name, const std::string& public_key_pem,
                  const std::string& actor);
  void remove_signer(const std::string& name, const std::string& actor);
  std::vector<SignerRecord> list_signers() const;
  void add_signature(const std::string& artifact, const std::string& signer,
                     const std::string& signature, const std::string& actor);
  std::vector<SignatureRecord> list_signatures(const std::string& artifact) const;
  // The trusted signer (in the signers table now) whose key verifies this signature.
  std::optional<std::string> trusted_signer(const ArtifactSignature& signature) const;
  // A stored signature of the artifact by a signer trusted now, verified now: its name.
  // Removing a signer thus stops its signatures counting at the next check (load).
  std::optional<std::string> verified_signer(const std::string& digest) const;

  // Evaluation before promotion (registry_evaluation.cpp). A dataset names an artifact
  // recorded with add_artifact; naming it again replaces its artifact. Audited
  // dataset.upload / dataset.remove.
  DatasetEntry put_dataset(const std::string& name, const std::string& artifact,
                           const std::string& description, int64_t records,
                           const std::string& actor);
  std::optional<DatasetEntry> find_dataset(const std::string& name) const;
  std::vector<DatasetEntry> list_datasets() const;
  void remove_dataset(const std::string& name, const std::string& actor);
  // Stores a report (audited version.evaluate); returns it with its id and time.
  // Audited as `audit_action` ("version.shadow_report" for a shadow's comparison).
  EvaluationReport add_report(EvaluationReport report, const std::string& actor,
                              const std::string& audit_action = "version.evaluate");
  // A model's reports, newest first (of one version when version > 0), at most `limit`.
  std::vector<EvaluationReport> list_reports(const std::string& model, int64_t version = 0,
                                             int limit = 100) const;
  std::optional<EvaluationReport> find_report(const std::string& model, int64_t id) const;
  // Sets (or, with an empty text, removes) one object of the model config — "gate" (the
  // promotion gate), "shadow" (a candidate version shadowing an alias): a JSON object text
  // the caller has checked. Audited model.<key> with the new value.
  void set_model_section(const std::string& model, const std::string& key,
                         const std::string& section_json, const std::string& actor);
  // Audits a promotion forced past the gate (action version.promote_forced): who, which
  // version, and the figures it was forced past (details_json).
  void audit_forced_promotion(const std::string& model, int64_t version,
                              const std::string& details_json, const std::string& actor);

  // The audit log in order, entries with id > after_id, at most limit of them.
  std::vector<AuditEntry> audit_log(int64_t after_id = 0, int limit = 1000) const;

  // Policy: temp files are always leftovers; an artifact file is kept while any version
  // that is not retired references it (as its model or one of its files), or for
  // kUnreferencedArtifactGraceMs after add_artifact, or while a dataset names it, and deleted
  // otherwise (its row stays, present=0). Runs at open; safe at any time since it takes the write
  // lock.
  CollectReport collect_garbage();

  // ---- Cluster mode (registry_cluster.cpp) ---------------------------------------------
  bool clustered() const { return !options_.postgres_url.empty(); }
  // Makes sure the artifact's file is in the local store (cluster mode: fetched from the
  // database when missing; embedded: nothing to do). Verification happens on read.
  void fetch_artifact(const std::string& digest);
  // Told (on the watcher thread) of a catalogue another replica changed: prepare() with
  // the new catalogue before it becomes this replica's snapshot (so the serving layer
  // loads what it will route to before any request is routed there), settled() after.
  class Follower {
   public:
    virtual ~Follower() = default;
    virtual void prepare(const Catalog& next) = 0;
    virtual void settled() = 0;
  };
  void set_follower(Follower* follower);
  // Whether this replica's snapshot is known to match the shared catalogue: the last
  // version check succeeded (always true in embedded mode).
  bool synced() const { return synced_.load(std::memory_order_acquire); }
  // Re-reads the catalogue version and reloads the snapshot when another replica moved
  // it; returns whether it did. The watcher calls this; tests may too.
  bool refresh();

  // The clock every time-based decision of the server reads (common/clock.h), and its time.
  const WallClock& clock() const { return options_.clock_ms; }
  int64_t now() const;

 private:
  void append_audit(const std::string& actor, const std::string& action, const std::string& target,
                    const std::string& details_json);
  void reload_catalog();
  // Reads the whole catalogue in one snapshot, with the catalogue version it was read at.
  std::shared_ptr<Catalog> read_catalog(int64_t& catalog_version);
  void publish_catalog(std::shared_ptr<Catalog> next, int64_t catalog_version);
  void load_tenants_and_keys(Catalog& catalog);
  // This thread's cached snapshot, refreshed when generation_ moved. Valid until this
  // thread's next call into the registry.
  const Catalog& cached_catalog() const;
  // Inserts or refreshes an artifact's row (present again; created_at too when asked);
  // returns whether its file is encrypted. Caller holds write_mutex_ and a transaction.
  bool record_artifact(const StoredArtifact& artifact, bool refresh_created_at);
  // Deletes artifact files no live version needs. Caller holds write_mutex_.
  int release_unreferenced_blobs();
  int64_t model_id(const std::string& name);
  // Adds usage deltas to their rows. Caller holds write_mutex_ and a write transaction.
  void add_usage_rows(const std::vector<UsageRow>& usage);
  // A version's state as stored; throws kNotFound naming model and version.
  VersionState stored_state(int64_t model_id, const std::string& model, int64_t version);

  // The artifacts collection keeps (one parameter: the time after which an artifact no
  // version references counts as just added): those of versions that are not retired,
  // their files, and recent additions waiting for their version.
  static constexpr const char* kLiveArtifacts =
      "SELECT artifact FROM versions WHERE state != 'retired' "
      "UNION SELECT f.artifact FROM version_files f JOIN versions v ON v.model_id = f.model_id "
      "AND v.version = f.version WHERE v.state != 'retired' "
      "UNION SELECT artifact FROM datasets "
      "UNION SELECT digest FROM artifacts WHERE created_at > ? "
      "AND digest NOT IN (SELECT artifact FROM versions) "
      "AND digest NOT IN (SELECT artifact FROM version_files)";

  RegistryOptions options_;
  DataDirLock lock_;  // first: held before anything in the data dir is touched
  ArtifactStore store_;
  // Cluster mode: inside a change's transaction, bumps the catalogue version and
  // notifies the other replicas (delivered when the transaction commits).
  void announce_change();
  // Cluster mode: copies a stored artifact's file into the database (inside add_version's
  // transaction) unless it is there already.
  void push_artifact(const std::string& digest);
  // Cluster mode: deletes the database's copies of artifacts no live version needs.
  void release_shared_blobs();
  void watch_catalog();

  mutable std::mutex write_mutex_;  // one change at a time; also guards db_
  std::unique_ptr<sql::Database> db_;
  // A mutex rather than std::atomic<std::shared_ptr>: GCC 12's implementation of the
  // latter releases its internal lock with relaxed ordering after a load, a data race
  // ThreadSanitizer reports (tsan preset). Taken only when the catalogue changed.
  mutable std::mutex catalog_mutex_;
  std::shared_ptr<const Catalog> catalog_;
  std::atomic<uint64_t> generation_{0};  // catalog_'s generation, readable without contention
  const uint64_t id_;                    // tells this registry's cache entries from another's

  // Cluster mode: the catalogue version the snapshot was read at, and the watcher.
  int64_t catalog_version_ = 0;  // guarded by write_mutex_
  std::atomic<bool> synced_{true};
  std::mutex follower_mutex_;  // held while the follower runs: set_follower waits for it
  Follower* follower_ = nullptr;
  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread watcher_;  // last: started once everything above exists
};

}  // namespace mg::registry
