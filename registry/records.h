#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mg::registry {

// registered → loading → ready | failed → retired; ready → failed when a loaded version's
// backend worker stops being restarted (see transition_allowed in registry.cpp for every
// allowed transition).
enum class VersionState { kRegistered, kLoading, kReady, kFailed, kRetired };

std::string_view state_name(VersionState state);
std::optional<VersionState> state_from_name(std::string_view name);

// What `mgctl model create` supplies.
struct ModelSpec {
  std::string name;
  std::string backend = "cpu";
  std::string description;
  std::string config_json = "{}";  // batching and instance config: a JSON object
  bool require_signature = false;
};

struct ModelRecord {
  int64_t id = 0;
  std::string name;
  std::string backend;
  std::string description;
  std::string config_json;
  bool require_signature = false;
  int64_t next_version = 1;
  int64_t created_at = 0;  // unix milliseconds, as are all times here
};

struct VersionRecord {
  std::string model;
  int64_t version = 0;
  std::string artifact;  // hex SHA-256 of the plaintext
  uint64_t size = 0;
  bool encrypted = false;
  VersionState state = VersionState::kRegistered;
  std::string state_reason;  // why it failed, or ""
  std::string notes;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  // The files it carries besides the model, by name ("vocabulary", "labels"): their
  // artifacts' digests. Read, verified and signature-checked with the model at load.
  std::map<std::string, std::string> files;
};

// One version of a weighted alias (a canary) and its share of the alias's requests.
struct AliasWeight {
  int64_t version = 0;
  uint32_t weight = 0;  // relative to the others'
};

// A weighted alias: its requests split among versions, per request or — sticky — by API
// key (a key always reaches the same version while the split stands).
struct AliasSplit {
  std::vector<AliasWeight> versions;  // the first is the alias's own (stable) version
  bool sticky = false;
  uint64_t total = 0;  // the weights' sum
  // The version a draw (a random number, or a key's hash) lands on.
  int64_t pick(uint64_t draw) const;
};

// A candidate version receiving a copy of a share of an alias's requests (the model
// config's "shadow"): its answers are compared with the served ones and dropped.
struct Shadow {
  std::string alias = "default";
  int64_t version = 0;
  double share = 0;  // 0..1 of the alias's requests
  // Parsed from a model config; nullopt when it has none or it is malformed (the admin
  // API checks it before storing).
  static std::optional<Shadow> from_config(const std::string& config_json);
};

struct AliasRecord {
  std::string model;
  std::string alias;
  int64_t version = 0;  // the alias's own version (a split's stable one)
  int64_t updated_at = 0;
  std::optional<AliasSplit> split;  // set for a weighted alias
  // Whether requests through this alias may reach `v`.
  bool serves(int64_t v) const;
};

struct AuditEntry {
  int64_t id = 0;
  int64_t time = 0;
  std::string actor;
  std::string action;
  std::string target;
  std::string details_json;
};

struct SignerRecord {
  std::string name;
  std::string algorithm;
  std::string public_key_pem;
  int64_t created_at = 0;
};

struct SignatureRecord {
  std::string artifact;
  std::string signer;
  std::string signature;  // raw bytes
  int64_t created_at = 0;
};

// A dataset versions are evaluated on (docs/evaluation.md): an artifact under a name.
// Uploading again under the same name points the name at the new content.
struct DatasetEntry {
  std::string name;
  std::string artifact;  // hex SHA-256 of its content
  std::string description;
  int64_t records = 0;
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

// One evaluation of a version on a dataset: the figures (report_json) and whether the
// model's gate passed them when it ran.
struct EvaluationReport {
  int64_t id = 0;
  std::string model;
  int64_t version = 0;
  std::string dataset;
  std::string dataset_artifact;  // the dataset's content evaluated
  int64_t baseline_version = 0;  // the default version evaluated beside it; 0: none
  bool passed = false;
  std::string report_json;
  std::string actor;
  int64_t created_at = 0;
};

// Tenant quota periods (docs/contracts.md "Rate limits, quotas, usage").
enum class QuotaPeriod { kMinute, kHour, kDay, kMonth };
std::string_view period_name(QuotaPeriod period);
std::optional<QuotaPeriod> period_from_name(std::string_view name);

struct TenantRecord {
  int64_t id = 0;
  std::string name;
  int64_t quota_limit = 0;  // requests per period, shared by the tenant's keys; 0 = none
  QuotaPeriod quota_period = QuotaPeriod::kMonth;
  int64_t created_at = 0;
};

// Key scopes, a bit set.
enum KeyScope : uint32_t { kScopeInfer = 1, kScopeAdmin = 2 };

// An API key as stored: never its secret (see schema migration 3).
struct KeyRecord {
  std::string id;  // 12 characters of [a-z0-9]
  std::string tenant;
  uint32_t scopes = kScopeInfer;
  std::string models = "*";  // glob over model names
  double rate = 0;           // requests per second; 0 = unlimited
  int64_t burst = 0;
  bool signed_only = false;
  int64_t expires_at = 0;     // unix milliseconds; 0 = never
  std::string secret_hash;    // raw bytes
  std::string secret_sealed;  // raw bytes
  int64_t created_at = 0;
  int64_t revoked_at = 0;  // 0 = live
};

// "infer,admin" ↔ bits; unknown scope names give nullopt.
std::string scopes_text(uint32_t scopes);
std::optional<uint32_t> scopes_from_text(std::string_view text);

// Metered usage of one (hour, tenant, key, model, version): counts, or deltas to add.
struct UsageRow {
  int64_t hour = 0;  // unix seconds of the UTC hour's start
  std::string tenant;
  std::string key_id;
  std::string model;
  int64_t version = 0;
  int64_t requests = 0;
  int64_t items = 0;
  int64_t errors = 0;
};

// Requests counted against a tenant's quota in one period (or a delta to add).
struct QuotaRow {
  std::string tenant;
  int64_t period_start = 0;  // unix seconds
  int64_t used = 0;
};

// An immutable in-memory view of the catalogue, replaced whole after every change, so
// the request path resolves aliases and versions without touching SQLite or a lock.
struct Catalog {
  struct Entry {
    ModelRecord model;
    std::map<int64_t, VersionRecord> versions;
    std::map<std::string, int64_t, std::less<>> aliases;
    std::map<std::string, AliasSplit, std::less<>> splits;  // the weighted ones among them
    std::optional<Shadow> shadow;  // the model config's "shadow", when valid
    // Whether any alias's requests (or its shadow's copies) may reach version v.
    bool aliased(int64_t v) const;
    // Every version an alias's requests may reach (its own first); empty when unknown.
    std::vector<int64_t> alias_versions(std::string_view alias) const;
  };
  std::unordered_map<std::string, Entry> models;
  std::unordered_map<std::string, TenantRecord> tenants;  // by name
  std::unordered_map<std::string, KeyRecord> keys;        // by key id, revoked ones too
  uint64_t generation = 0;                                // increases with every change

  // A model's entry, or nullptr.
  const Entry* find(const std::string& model) const;
  // A key by id (revoked ones too), or nullptr.
  const KeyRecord* find_key(std::string_view id) const;
  // "3" → version 3 if it exists; an alias → the version it points at (a weighted alias's
  // own version); else nullopt.
  std::optional<int64_t> resolve(const std::string& model, std::string_view version_or_alias) const;
  // resolve() for a request: a weighted alias picks a version by `draw` (a random number
  // per request, or the caller's key hash when the split is sticky: sticky_draw).
  std::optional<int64_t> route(const std::string& model, std::string_view version_or_alias,
                               uint64_t draw, uint64_t sticky_draw) const;
};

}  // namespace mg::registry
