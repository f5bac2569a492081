#include "registry/sqlite.h"

#include <sqlite3.h>

#include <memory>
#include <utility>

#include "registry/registry_error.h"

namespace mg::registry::sql {
namespace {

// A full disk or a failing file system is kIo (the admin API answers 507), anything
// else kDatabase.
RegistryError::Code code_for(int result) {
  const int primary = result & 0xff;
  return primary == SQLITE_FULL || primary == SQLITE_IOERR ? RegistryError::Code::kIo
                                                           : RegistryError::Code::kDatabase;
}

[[noreturn]] void fail(sqlite3* db, const std::string& what) {
  std::string message = "sqlite: " + what;
  if (db != nullptr) message += ": " + std::string(sqlite3_errmsg(db));
  throw RegistryError(
      db != nullptr ? code_for(sqlite3_extended_errcode(db)) : RegistryError::Code::kDatabase,
      message);
}

// Writers wait up to this long for the lock before an error reaches the caller.
constexpr int kBusyTimeoutMs = 10000;

class SqliteStatement final : public StatementImpl {
 public:
  SqliteStatement(sqlite3* db, std::string_view sql) : db_(db) {
    if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr) !=
        SQLITE_OK) {
      fail(db_, "prepare '" + std::string(sql.substr(0, 60)) + "'");
    }
  }
  ~SqliteStatement() override { sqlite3_finalize(stmt_); }
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  void bind_int(int index, int64_t value) override {
    check(sqlite3_bind_int64(stmt_, index, value));
  }
  void bind_real(int index, double value) override {
    check(sqlite3_bind_double(stmt_, index, value));
  }
  void bind_text(int index, std::string_view text) override {
    check(sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()),
                            SQLITE_TRANSIENT));
  }
  void bind_blob(int index, std::span<const std::byte> blob) override {
    check(sqlite3_bind_blob(stmt_, index, blob.data(), static_cast<int>(blob.size()),
                            SQLITE_TRANSIENT));
  }
  void bind_null(int index) override { check(sqlite3_bind_null(stmt_, index)); }

  bool step() override {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(db_, "step");
  }
  void reset() override {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  int64_t column_int(int index) const override { return sqlite3_column_int64(stmt_, index); }
  double column_real(int index) const override { return sqlite3_column_double(stmt_, index); }
  std::string column_text(int index) const override {
    const auto* text = sqlite3_column_text(stmt_, index);
    const int size = sqlite3_column_bytes(stmt_, index);
    return text ? std::string(reinterpret_cast<const char*>(text), size) : std::string();
  }
  std::string column_blob(int index) const override {
    const void* blob = sqlite3_column_blob(stmt_, index);
    const int size = sqlite3_column_bytes(stmt_, index);
    return blob ? std::string(static_cast<const char*>(blob), size) : std::string();
  }
  bool column_is_null(int index) const override {
    return sqlite3_column_type(stmt_, index) == SQLITE_NULL;
  }

 private:
  void check(int result) const {
    if (result != SQLITE_OK) fail(db_, "bind");
  }
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace

SqliteDatabase::SqliteDatabase(const std::filesystem::path& path) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw RegistryError(RegistryError::Code::kDatabase,
                        "sqlite: cannot open " + path.string() + ": " + why);
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  try {
    // WAL: readers never block the writer nor the writer them. synchronous=FULL: a
    // committed transaction survives power loss, not just a process crash.
    exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
  } catch (...) {
    sqlite3_close(db_);
    throw;
  }
}

SqliteDatabase::~SqliteDatabase() { sqlite3_close(db_); }

void SqliteDatabase::exec(const std::string& sql) {
  char* error = nullptr;
  if (const int result = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
      result != SQLITE_OK) {
    std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    throw RegistryError(code_for(result), "sqlite: " + message);
  }
}

Statement SqliteDatabase::prepare(std::string_view sql) {
  return Statement(std::make_unique<SqliteStatement>(db_, sql));
}

int SqliteDatabase::changes() const { return sqlite3_changes(db_); }

void SqliteDatabase::rollback() noexcept {
  // A failed rollback leaves SQLite to roll back on close; nothing more to do here.
  sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

}  // namespace mg::registry::sql
