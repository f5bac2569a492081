#pragma once

#include <filesystem>

#include "registry/sql.h"

struct sqlite3;

namespace mg::registry::sql {

// One SQLite connection (the embedded registry): WAL, foreign keys on, a busy timeout so
// a writer waits for another rather than failing with "database is locked".
class SqliteDatabase final : public Database {
 public:
  explicit SqliteDatabase(const std::filesystem::path& path);
  ~SqliteDatabase() override;
  SqliteDatabase(const SqliteDatabase&) = delete;
  SqliteDatabase& operator=(const SqliteDatabase&) = delete;

  Engine engine() const override { return Engine::kSqlite; }
  void exec(const std::string& sql) override;
  Statement prepare(std::string_view sql) override;
  int changes() const override;
  // BEGIN IMMEDIATE: the write lock up front.
  void begin_write() override { exec("BEGIN IMMEDIATE"); }
  void begin_read() override { exec("BEGIN"); }
  void commit() override { exec("COMMIT"); }
  void rollback() noexcept override;

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace mg::registry::sql
