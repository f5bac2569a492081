#pragma once

#include <filesystem>
#include <string>

#include "registry/sql.h"

namespace mg::registry {

// Cluster mode: an artifact file's bytes, as stored (encrypted or not), written into the
// database's artifact_chunks table in 1 MiB rows (seq 0, 1, …), never held whole in
// memory. Runs inside the caller's transaction. Throws RegistryError (kIo on a read error).
void insert_artifact_chunks(sql::Database& db, const std::string& digest,
                            const std::filesystem::path& file);

}  // namespace mg::registry
