#include "registry/schema.h"

#include <string>
#include <vector>

#include "registry/registry_error.h"

namespace mg::registry {
namespace {

// Migration N takes the schema from version N-1 to N. Append only.
const std::vector<std::string>& sqlite_migrations() {
  static const std::vector<std::string> kMigrations = {
      // 1: the model catalogue, the artifact index and the audit log.
      R"sql(
CREATE TABLE models (
  id                INTEGER PRIMARY KEY,
  name              TEXT NOT NULL UNIQUE,
  backend           TEXT NOT NULL,
  description       TEXT NOT NULL DEFAULT '',
  config            TEXT NOT NULL DEFAULT '{}',  -- batching and instance config, JSON object
  require_signature INTEGER NOT NULL DEFAULT 0,
  next_version      INTEGER NOT NULL DEFAULT 1,  -- versions are never reused
  created_at        INTEGER NOT NULL             -- unix milliseconds
);
CREATE TABLE artifacts (
  digest     TEXT PRIMARY KEY,                   -- lowercase hex SHA-256 of the plaintext
  size       INTEGER NOT NULL,
  encrypted  INTEGER NOT NULL DEFAULT 0,
  present    INTEGER NOT NULL DEFAULT 1,         -- 0 once its file was collected
  created_at INTEGER NOT NULL
);
CREATE TABLE versions (
  model_id     INTEGER NOT NULL REFERENCES models(id),
  version      INTEGER NOT NULL,
  artifact     TEXT NOT NULL REFERENCES artifacts(digest),
  state        TEXT NOT NULL
               CHECK (state IN ('registered', 'loading', 'ready', 'failed', 'retired')),
  state_reason TEXT NOT NULL DEFAULT '',
  notes        TEXT NOT NULL DEFAULT '',
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  PRIMARY KEY (model_id, version)
);
CREATE INDEX versions_by_artifact ON versions(artifact);
CREATE TABLE aliases (
  model_id   INTEGER NOT NULL REFERENCES models(id),
  alias      TEXT NOT NULL,
  version    INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (model_id, alias),
  FOREIGN KEY (model_id, version) REFERENCES versions(model_id, version)
);
CREATE TABLE audit_log (
  id      INTEGER PRIMARY KEY AUTOINCREMENT,
  time    INTEGER NOT NULL,                      -- unix milliseconds
  actor   TEXT NOT NULL,                         -- API key id, or "system"
  action  TEXT NOT NULL,                         -- e.g. "model.create", "alias.set"
  target  TEXT NOT NULL,                         -- e.g. "fashion-mlp/3"
  details TEXT NOT NULL DEFAULT '{}'             -- JSON object
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
)sql",
      // 2: trusted signers and artifact signatures (used by model protection).
      R"sql(
CREATE TABLE signers (
  name       TEXT PRIMARY KEY,
  algorithm  TEXT NOT NULL DEFAULT 'ed25519',
  public_key TEXT NOT NULL,                      -- PEM
  created_at INTEGER NOT NULL
);
CREATE TABLE signatures (
  artifact   TEXT NOT NULL REFERENCES artifacts(digest),
  signer     TEXT NOT NULL,                      -- kept after the signer is removed
  signature  BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (artifact, signer)
);
)sql",
      // 3: tenants and their API keys. A key's secret is never stored: only a keyed hash
      // (bearer checks) and a copy sealed under the master key (signed requests need the
      // secret itself), so a copy of the database alone cannot authenticate.
      R"sql(
CREATE TABLE tenants (
  id           INTEGER PRIMARY KEY,
  name         TEXT NOT NULL UNIQUE,
  quota_limit  INTEGER NOT NULL DEFAULT 0,       -- requests per period; 0 = unlimited
  quota_period TEXT NOT NULL DEFAULT 'month'
               CHECK (quota_period IN ('minute', 'hour', 'day', 'month')),
  created_at   INTEGER NOT NULL
);
CREATE TABLE api_keys (
  id            TEXT PRIMARY KEY,                -- the 12-character public part
  tenant_id     INTEGER NOT NULL REFERENCES tenants(id),
  scopes        TEXT NOT NULL,                   -- comma-separated: infer, admin
  models        TEXT NOT NULL DEFAULT '*',       -- glob over model names
  rate          REAL NOT NULL DEFAULT 0,         -- requests per second; 0 = unlimited
  burst         INTEGER NOT NULL DEFAULT 0,
  signed_only   INTEGER NOT NULL DEFAULT 0,
  expires_at    INTEGER NOT NULL DEFAULT 0,      -- unix milliseconds; 0 = never
  secret_hash   BLOB NOT NULL,                   -- HMAC-SHA256(master-derived key, full key)
  secret_sealed BLOB NOT NULL,                   -- AES-256-GCM(master-derived key, secret)
  created_at    INTEGER NOT NULL,
  revoked_at    INTEGER NOT NULL DEFAULT 0       -- 0 = live
);
CREATE INDEX api_keys_by_tenant ON api_keys(tenant_id);
)sql",
      // 4: usage metering and tenant quota counters. Names, not ids: tenants and models
      // are never renamed, and the rows must outlive keys and versions for billing.
      R"sql(
CREATE TABLE usage (
  hour     INTEGER NOT NULL,                     -- unix seconds of the UTC hour's start
  tenant   TEXT NOT NULL,
  key_id   TEXT NOT NULL,
  model    TEXT NOT NULL,
  version  INTEGER NOT NULL,
  requests INTEGER NOT NULL DEFAULT 0,
  items    INTEGER NOT NULL DEFAULT 0,           -- batch rows
  errors   INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (hour, tenant, key_id, model, version)
);
CREATE TABLE quota_usage (
  tenant       TEXT NOT NULL,
  period_start INTEGER NOT NULL,                 -- unix seconds (UTC calendar period)
  used         INTEGER NOT NULL,
  PRIMARY KEY (tenant, period_start)
);
)sql",
      // 5: usage batches already added to the ledger (a batch of shared counters is
      // applied once however many replicas try, or retry after dying half-way).
      R"sql(
CREATE TABLE usage_batches (
  id         TEXT PRIMARY KEY,                   -- random, chosen when the batch was cut
  applied_at INTEGER NOT NULL                    -- unix seconds
);
)sql",
      // 6: the files a version carries besides its model (a tokeniser's vocabulary, class
      // labels), each an artifact stored, signed and encrypted as models are.
      R"sql(
CREATE TABLE version_files (
  model_id INTEGER NOT NULL,
  version  INTEGER NOT NULL,
  name     TEXT NOT NULL,                        -- e.g. "vocabulary", "labels"
  artifact TEXT NOT NULL REFERENCES artifacts(digest),
  PRIMARY KEY (model_id, version, name),
  FOREIGN KEY (model_id, version) REFERENCES versions(model_id, version)
);
CREATE INDEX version_files_by_artifact ON version_files(artifact);
)sql",
      // 7: evaluation before promotion and gradual rollout: datasets (artifacts a version is
      // evaluated on), the reports of evaluations (figures as JSON; `passed` as the gate
      // judged then), and weighted aliases (a canary: the alias's versions with their
      // shares of its requests, in order, the first being aliases.version).
      R"sql(
CREATE TABLE datasets (
  name        TEXT PRIMARY KEY,
  artifact    TEXT NOT NULL REFERENCES artifacts(digest),
  description TEXT NOT NULL DEFAULT '',
  records     INTEGER NOT NULL,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);
CREATE INDEX datasets_by_artifact ON datasets(artifact);
CREATE TABLE evaluation_reports (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  model_id         INTEGER NOT NULL REFERENCES models(id),
  version          INTEGER NOT NULL,
  dataset          TEXT NOT NULL,
  dataset_artifact TEXT NOT NULL,                -- the dataset's content when evaluated
  baseline_version INTEGER NOT NULL,             -- the default version compared with; 0: none
  passed           INTEGER NOT NULL,
  report           TEXT NOT NULL,                -- JSON object
  actor            TEXT NOT NULL,
  created_at       INTEGER NOT NULL
);
CREATE INDEX evaluation_reports_by_version ON evaluation_reports(model_id, version, id);
ALTER TABLE aliases ADD COLUMN sticky INTEGER NOT NULL DEFAULT 0;  -- split by API key
CREATE TABLE alias_weights (
  model_id INTEGER NOT NULL,
  alias    TEXT NOT NULL,
  position INTEGER NOT NULL,                     -- 0 is the alias's own (stable) version
  version  INTEGER NOT NULL,
  weight   INTEGER NOT NULL,                     -- share of the alias's requests, relative
  PRIMARY KEY (model_id, alias, position),
  FOREIGN KEY (model_id, alias) REFERENCES aliases(model_id, alias),
  FOREIGN KEY (model_id, version) REFERENCES versions(model_id, version)
);
)sql",
  };
  return kMigrations;
}

// PostgreSQL (the cluster registry): the same tables in PostgreSQL's types, plus what only
// a cluster needs: the catalogue version every change bumps (replicas compare it with the
// snapshot they hold) and the artifacts' bytes, in chunks. Its own numbering, append only.
const std::vector<std::string>& postgres_migrations() {
  static const std::vector<std::string> kMigrations = {
      // 1: everything SQLite's migrations 1-4 hold, and the cluster's own tables.
      R"sql(
CREATE TABLE models (
  id                BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  name              TEXT NOT NULL UNIQUE,
  backend           TEXT NOT NULL,
  description       TEXT NOT NULL DEFAULT '',
  config            TEXT NOT NULL DEFAULT '{}',
  require_signature BIGINT NOT NULL DEFAULT 0,
  next_version      BIGINT NOT NULL DEFAULT 1,
  created_at        BIGINT NOT NULL
);
CREATE TABLE artifacts (
  digest     TEXT PRIMARY KEY,
  size       BIGINT NOT NULL,
  encrypted  BIGINT NOT NULL DEFAULT 0,
  present    BIGINT NOT NULL DEFAULT 1,
  created_at BIGINT NOT NULL
);
CREATE TABLE versions (
  model_id     BIGINT NOT NULL REFERENCES models(id),
  version      BIGINT NOT NULL,
  artifact     TEXT NOT NULL REFERENCES artifacts(digest),
  state        TEXT NOT NULL
               CHECK (state IN ('registered', 'loading', 'ready', 'failed', 'retired')),
  state_reason TEXT NOT NULL DEFAULT '',
  notes        TEXT NOT NULL DEFAULT '',
  created_at   BIGINT NOT NULL,
  updated_at   BIGINT NOT NULL,
  PRIMARY KEY (model_id, version)
);
CREATE INDEX versions_by_artifact ON versions(artifact);
CREATE TABLE aliases (
  model_id   BIGINT NOT NULL REFERENCES models(id),
  alias      TEXT NOT NULL,
  version    BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (model_id, alias),
  FOREIGN KEY (model_id, version) REFERENCES versions(model_id, version)
);
CREATE TABLE audit_log (
  id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  time    BIGINT NOT NULL,
  actor   TEXT NOT NULL,
  action  TEXT NOT NULL,
  target  TEXT NOT NULL,
  details TEXT NOT NULL DEFAULT '{}'
);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TABLE signers (
  name       TEXT PRIMARY KEY,
  algorithm  TEXT NOT NULL DEFAULT 'ed25519',
  public_key TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE TABLE signatures (
  artifact   TEXT NOT NULL REFERENCES artifacts(digest),
  signer     TEXT NOT NULL,
  signature  BYTEA NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (artifact, signer)
);
CREATE TABLE tenants (
  id           BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  name         TEXT NOT NULL UNIQUE,
  quota_limit  BIGINT NOT NULL DEFAULT 0,
  quota_period TEXT NOT NULL DEFAULT 'month'
               CHECK (quota_period IN ('minute', 'hour', 'day', 'month')),
  created_at   BIGINT NOT NULL
);
CREATE TABLE api_keys (
  id            TEXT PRIMARY KEY,
  tenant_id     BIGINT NOT NULL REFERENCES tenants(id),
  scopes        TEXT NOT NULL,
  models        TEXT NOT NULL DEFAULT '*',
  rate          DOUBLE PRECISION NOT NULL DEFAULT 0,
  burst         BIGINT NOT NULL DEFAULT 0,
  signed_only   BIGINT NOT NULL DEFAULT 0,
  expires_at    BIGINT NOT NULL DEFAULT 0,
  secret_hash   BYTEA NOT NULL,
  secret_sealed BYTEA NOT NULL,
  created_at    BIGINT NOT NULL,
  revoked_at    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX api_keys_by_tenant ON api_keys(tenant_id);
CREATE TABLE usage (
  hour     BIGINT NOT NULL,
  tenant   TEXT NOT NULL,
  key_id   TEXT NOT NULL,
  model    TEXT NOT NULL,
  version  BIGINT NOT NULL,
  requests BIGINT NOT NULL DEFAULT 0,
  items    BIGINT NOT NULL DEFAULT 0,
  errors   BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (hour, tenant, key_id, model, version)
);
CREATE TABLE quota_usage (
  tenant       TEXT NOT NULL,
  period_start BIGINT NOT NULL,
  used         BIGINT NOT NULL,
  PRIMARY KEY (tenant, period_start)
);
CREATE TABLE catalog_version (
  one     BIGINT PRIMARY KEY CHECK (one = 1),
  version BIGINT NOT NULL
);
INSERT INTO catalog_version VALUES (1, 1);
CREATE TABLE artifact_chunks (
  digest TEXT NOT NULL,                          -- artifacts.digest; no FK: written first
  seq    BIGINT NOT NULL,                        -- 0, 1, ...
  data   BYTEA NOT NULL,                         -- the stored file's bytes (encrypted as stored)
  PRIMARY KEY (digest, seq)
);
)sql",
      // 2: usage batches already added to the ledger (as SQLite's migration 5).
      R"sql(
CREATE TABLE usage_batches (
  id         TEXT PRIMARY KEY,
  applied_at BIGINT NOT NULL
);
)sql",
      // 3: the files a version carries besides its model (as SQLite's migration 6).
      R"sql(
CREATE TABLE version_files (
  model_id BIGINT NOT NULL,
  version  BIGINT NOT NULL,
  name     TEXT NOT NULL,
  artifact TEXT NOT NULL REFERENCES artifacts(digest),
  PRIMARY KEY (model_id, version, name),
  FOREIGN KEY (model_id, version) REFERENCES versions(model_id, version)
);
CREATE INDEX version_files_by_artifact ON version_files(artifact);
)sql",
      // 4: datasets, evaluation reports and weighted aliases (as SQLite's migration 7).
      R"sql(
CREATE TABLE datasets (
  name        TEXT PRIMARY KEY,
  artifact    TEXT NOT NULL REFERENCES artifacts(digest),
  description TEXT NOT NULL DEFAULT '',
  records     BIGINT NOT NULL,
  created_at  BIGINT NOT NULL,
  updated_at  BIGINT NOT NULL
);
CREATE INDEX datasets_by_artifact ON datasets(artifact);
CREATE TABLE evaluation_reports (
  id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  model_id         BIGINT NOT NULL REFERENCES models(id),
  version          BIGINT NOT NULL,
  dataset          TEXT NOT NULL,
  dataset_artifact TEXT NOT NULL,
  baseline_version BIGINT NOT NULL,
  passed           BIGINT NOT NULL,
  report           TEXT NOT NULL,
  actor            TEXT NOT NULL,
  created_at       BIGINT NOT NULL
);
CREATE INDEX evaluation_reports_by_version ON evaluation_reports(model_id, version, id);
ALTER TABLE aliases ADD COLUMN sticky BIGINT NOT NULL DEFAULT 0;
CREATE TABLE alias_weights (
  model_id BIGINT NOT NULL,
  alias    TEXT NOT NULL,
  position BIGINT NOT NULL,
  version  BIGINT NOT NULL,
  weight   BIGINT NOT NULL,
  PRIMARY KEY (model_id, alias, position),
  FOREIGN KEY (model_id, alias) REFERENCES aliases(model_id, alias),
  FOREIGN KEY (model_id, version) REFERENCES versions(model_id, version)
);
)sql",
  };
  return kMigrations;
}

const std::vector<std::string>& migrations(sql::Engine engine) {
  return engine == sql::Engine::kSqlite ? sqlite_migrations() : postgres_migrations();
}

}  // namespace

int latest_schema_version(sql::Engine engine) {
  return static_cast<int>(migrations(engine).size());
}

// SQLite keeps the version in PRAGMA user_version, PostgreSQL in a table of its own.
int schema_version(sql::Database& db) {
  if (db.engine() == sql::Engine::kSqlite) {
    sql::Statement statement = db.prepare("PRAGMA user_version");
    statement.step();
    return static_cast<int>(statement.column_int(0));
  }
  sql::Statement statement = db.prepare("SELECT max(version) FROM schema_version");
  return statement.step() ? static_cast<int>(statement.column_int(0)) : 0;
}

namespace {
void set_schema_version(sql::Database& db, int version) {
  if (db.engine() == sql::Engine::kSqlite) {
    db.exec("PRAGMA user_version = " + std::to_string(version));
  } else {
    db.prepare("INSERT INTO schema_version (version) VALUES (?)").bind(1, int64_t{version}).run();
  }
}
}  // namespace

void migrate(sql::Database& db, int target) {
  const int latest = latest_schema_version(db.engine());
  if (target < 0) target = latest;
  if (db.engine() == sql::Engine::kPostgres) {
    // Under the writers' lock: replicas starting together create it once.
    sql::Transaction transaction(db);
    db.exec("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)");
    transaction.commit();
  }
  int current = schema_version(db);
  if (current > latest) {
    throw RegistryError(RegistryError::Code::kDatabase,
                        "registry schema version " + std::to_string(current) +
                            " is newer than this build supports (" + std::to_string(latest) +
                            "); upgrade ModelGate");
  }
  for (int next = current + 1; next <= target; ++next) {
    sql::Transaction transaction(db);
    // Re-read inside the write lock: another process may have migrated meanwhile.
    if (schema_version(db) >= next) continue;
    db.exec(migrations(db.engine())[next - 1]);
    set_schema_version(db, next);
    transaction.commit();
  }
}

}  // namespace mg::registry
