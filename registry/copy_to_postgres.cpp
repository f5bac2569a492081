#include "registry/copy_to_postgres.h"

#include <set>
#include <vector>

#include "registry/artifact_chunks.h"
#include "registry/postgres.h"
#include "registry/registry.h"
#include "registry/registry_error.h"
#include "registry/schema.h"
#include "registry/sqlite.h"

namespace mg::registry {
namespace {

struct Table {
  const char* name;
  std::vector<const char*> columns;
  std::set<std::string> blobs;   // columns copied as bytes
  bool identity_always = false;  // audit_log.id: GENERATED ALWAYS
};

// Every table of the embedded schema (registry/schema.cpp), in foreign-key order.
const std::vector<Table>& tables() {
  static const std::vector<Table> kTables = {
      {"models",
       {"id", "name", "backend", "description", "config", "require_signature", "next_version",
        "created_at"}},
      {"artifacts", {"digest", "size", "encrypted", "present", "created_at"}},
      {"versions",
       {"model_id", "version", "artifact", "state", "state_reason", "notes", "created_at",
        "updated_at"}},
      {"aliases", {"model_id", "alias", "version", "updated_at", "sticky"}},
      {"alias_weights", {"model_id", "alias", "position", "version", "weight"}},
      {"version_files", {"model_id", "version", "name", "artifact"}},
      {"audit_log", {"id", "time", "actor", "action", "target", "details"}, {}, true},
      {"signers", {"name", "algorithm", "public_key", "created_at"}},
      {"signatures", {"artifact", "signer", "signature", "created_at"}, {"signature"}},
      {"tenants", {"id", "name", "quota_limit", "quota_period", "created_at"}},
      {"api_keys",
       {"id", "tenant_id", "scopes", "models", "rate", "burst", "signed_only", "expires_at",
        "secret_hash", "secret_sealed", "created_at", "revoked_at"},
       {"secret_hash", "secret_sealed"}},
      {"usage", {"hour", "tenant", "key_id", "model", "version", "requests", "items", "errors"}},
      {"quota_usage", {"tenant", "period_start", "used"}},
      {"datasets", {"name", "artifact", "description", "records", "created_at", "updated_at"}},
      {"evaluation_reports",
       {"id", "model_id", "version", "dataset", "dataset_artifact", "baseline_version", "passed",
        "report", "actor", "created_at"},
       {},
       true},
  };
  return kTables;
}

int copy_table(sql::Database& from, sql::Database& to, const Table& table) {
  std::string names, marks;
  for (const char* column : table.columns) {
    names += std::string(names.empty() ? "" : ", ") + column;
    marks += marks.empty() ? "?" : ", ?";
  }
  auto rows = from.prepare(std::string("SELECT ") + names + " FROM " + table.name);
  auto insert = to.prepare(std::string("INSERT INTO ") + table.name + " (" + names + ") " +
                           (table.identity_always ? "OVERRIDING SYSTEM VALUE " : "") + "VALUES (" +
                           marks + ")");
  int count = 0;
  while (rows.step()) {
    for (std::size_t i = 0; i < table.columns.size(); ++i) {
      const int column = static_cast<int>(i);
      if (table.blobs.count(table.columns[i]) > 0) {
        const std::string bytes = rows.column_blob(column);
        insert.bind_blob(column + 1, std::as_bytes(std::span(bytes.data(), bytes.size())));
      } else {
        insert.bind(column + 1, rows.column_text(column));
      }
    }
    insert.run();
    insert.reset();
    ++count;
  }
  return count;
}

}  // namespace

CopyReport copy_to_postgres(const std::filesystem::path& data_dir, const std::string& url) {
  // Brings the embedded registry to the latest schema, with its lock held throughout.
  Registry embedded(RegistryOptions{data_dir});
  sql::PostgresDatabase target(url);
  migrate(target);
  sql::SqliteDatabase source(data_dir / "registry.db");
  CopyReport report;
  sql::Transaction transaction(target);
  for (const char* table : {"models", "tenants", "audit_log", "signers"}) {
    auto any = target.prepare(std::string("SELECT 1 FROM ") + table + " LIMIT 1");
    if (any.step()) {
      throw RegistryError(RegistryError::Code::kConflict,
                          std::string("the PostgreSQL registry is not empty (table ") + table +
                              " has rows); copy into a new database");
    }
  }
  for (const Table& table : tables()) {
    const int rows = copy_table(source, target, table);
    const std::string name = table.name;
    if (name == "models") report.models = rows;
    if (name == "versions") report.versions = rows;
    if (name == "tenants") report.tenants = rows;
    if (name == "api_keys") report.keys = rows;
    if (name == "audit_log") report.audit_entries = rows;
  }
  // New rows continue after the copied ids.
  for (const char* table : {"models", "tenants", "audit_log", "evaluation_reports"}) {
    target.exec(std::string("SELECT setval(pg_get_serial_sequence('") + table +
                "', 'id'), GREATEST((SELECT max(id) FROM " + table + "), 1))");
  }
  // The bytes of every artifact a live version may load.
  auto present = source.prepare("SELECT digest FROM artifacts WHERE present = 1");
  ArtifactStore& store = embedded.artifacts();
  while (present.step()) {
    const std::string digest = present.column_text(0);
    if (!store.contains(digest)) continue;
    insert_artifact_chunks(target, digest, store.path_of(digest));
    ++report.artifacts;
  }
  target.exec("UPDATE catalog_version SET version = version + 1");
  target.exec("NOTIFY modelgate_catalog");
  transaction.commit();
  return report;
}

}  // namespace mg::registry
