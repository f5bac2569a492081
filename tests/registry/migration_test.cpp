// Schema migrations: from an empty file, from every earlier version, and refusal of a
// database newer than the build.
#include <gtest/gtest.h>

#include "registry/registry.h"
#include "registry/registry_error.h"
#include "registry/schema.h"
#include "registry/sqlite.h"
#include "tests/registry/temp_dir.h"

namespace mg::registry {
namespace {

using testing::TempDir;

std::vector<std::string> tables(sql::SqliteDatabase& db) {
  std::vector<std::string> names;
  auto statement = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
  while (statement.step()) names.push_back(statement.column_text(0));
  return names;
}

TEST(Migrations, EmptyFileReachesTheLatestSchema) {
  TempDir dir;
  sql::SqliteDatabase db(dir.path() / "registry.db");
  EXPECT_EQ(schema_version(db), 0);
  migrate(db);
  EXPECT_EQ(schema_version(db), latest_schema_version());
  auto names = tables(db);
  for (const char* table :
       {"aliases", "artifacts", "audit_log", "models", "signatures", "signers", "versions"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), table), names.end()) << table;
  }
  migrate(db);  // idempotent
  EXPECT_EQ(schema_version(db), latest_schema_version());
}

// For every earlier version N: a database at N holding data migrates to the latest with
// that data intact and usable.
TEST(Migrations, EveryEarlierVersionMigratesWithItsData) {
  for (int from = 1; from < latest_schema_version(); ++from) {
    TempDir dir;
    {
      sql::SqliteDatabase db(dir.path() / "registry.db");
      migrate(db, from);
      ASSERT_EQ(schema_version(db), from);
      db.exec(
          "INSERT INTO models (name, backend, created_at, next_version) VALUES ('m', 'cpu', 1, 2);"
          "INSERT INTO artifacts (digest, size, created_at) VALUES "
          "('b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9', 11, 1);"
          "INSERT INTO versions (model_id, version, artifact, state, created_at, updated_at) "
          "VALUES (1, 1, 'b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9', "
          "'registered', 1, 1);"
          "INSERT INTO aliases (model_id, alias, version, updated_at) VALUES (1, 'default', 1, "
          "1);");
    }
    // The artifact file, so the version is live and its blob kept.
    {
      ArtifactStore store(dir.path() / "artifacts");
      std::string content = "hello world";
      store.put(std::as_bytes(std::span(content.data(), content.size())));
    }
    Registry registry({dir.path()});
    EXPECT_EQ(registry.resolve("m", "default"), 1) << "from schema " << from;
    EXPECT_EQ(registry.find_version("m", 1)->size, 11u);
    auto v2 = registry.add_version(
        "m", {"b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9", 11}, "", "t");
    EXPECT_EQ(v2.version, 2);
  }
}

TEST(Migrations, NewerDatabaseIsRefusedUntouched) {
  TempDir dir;
  {
    sql::SqliteDatabase db(dir.path() / "registry.db");
    db.exec("PRAGMA user_version = 999");
  }
  try {
    Registry registry({dir.path()});
    FAIL() << "opened a newer database";
  } catch (const RegistryError& e) {
    EXPECT_NE(std::string(e.what()).find("999 is newer than this build"), std::string::npos);
  }
  sql::SqliteDatabase db(dir.path() / "registry.db");
  EXPECT_EQ(schema_version(db), 999);
  EXPECT_TRUE(tables(db).empty());
}

}  // namespace
}  // namespace mg::registry
