#pragma once

#include "registry/sql.h"

namespace mg::registry {

// The schema version this build writes for an engine (SQLite: PRAGMA user_version after
// migrate(); PostgreSQL: the schema_version table).
int latest_schema_version(sql::Engine engine = sql::Engine::kSqlite);

// Brings the database up to `target` (default: the latest) by applying, in order and each
// in its own transaction, every migration above the current schema version.
// Migrations are append-only: a later issue adds a migration, never edits an earlier one.
// A database newer than this build is refused (RegistryError kDatabase), never touched.
void migrate(sql::Database& db, int target = -1);

int schema_version(sql::Database& db);

}  // namespace mg::registry
