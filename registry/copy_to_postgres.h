#pragma once

#include <filesystem>
#include <string>

namespace mg::registry {

struct CopyReport {
  int models = 0, versions = 0, artifacts = 0, tenants = 0, keys = 0, audit_entries = 0;
};

// Copies an embedded registry (data_dir/registry.db and its artifacts) into an empty
// cluster registry in PostgreSQL, row for row: ids, version numbers, states, hashed and
// sealed keys, the audit log, usage and quotas as they are, and every artifact file's
// bytes (encrypted as stored) into the database's chunks. One PostgreSQL transaction: a
// failed copy leaves the target as it was. The data dir must not be in use (its lock is
// taken) and the replicas must be given the data dir's master key. Throws RegistryError
// (kConflict when the target already holds a catalogue).
CopyReport copy_to_postgres(const std::filesystem::path& data_dir, const std::string& url);

}  // namespace mg::registry
