#pragma once

#include "registry/sqlite.h"

namespace mg::registry {

// The schema version this build writes: PRAGMA user_version after migrate().
int latest_schema_version();

// Brings the database up to `target` (default: the latest) by applying, in order and each
// in its own transaction, every migration above the current PRAGMA user_version.
// Migrations are append-only: a later issue adds a migration, never edits an earlier one.
// A database newer than this build is refused (RegistryError kDatabase), never touched.
void migrate(sql::Database& db, int target = -1);

int schema_version(sql::Database& db);

}  // namespace mg::registry
