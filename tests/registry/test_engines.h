#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "registry/postgres.h"
#include "registry/registry.h"
#include "registry/sqlite.h"

namespace mg::registry::testing {

// The registry's engines: parameterised suites run every test on both.
enum class Engine { kSqlite, kPostgres };

inline void PrintTo(Engine engine, std::ostream* out) {
  *out << (engine == Engine::kSqlite ? "sqlite" : "postgres");
}

inline std::string engine_name(const ::testing::TestParamInfo<Engine>& info) {
  return info.param == Engine::kSqlite ? "Sqlite" : "Postgres";
}

// A fresh PostgreSQL database per test on the server the test command started
// (tests/cluster/postgres_server.sh writes its URL to the file MG_TEST_POSTGRES_URL_FILE
// names), dropped afterwards. Without that variable (a test binary run by hand) PostgreSQL
// tests skip; with it, a server that cannot be reached fails them.
class TestPostgres {
 public:
  TestPostgres() {
    const char* file = std::getenv("MG_TEST_POSTGRES_URL_FILE");
    if (file == nullptr) return;
    std::ifstream in(file);
    std::getline(in, admin_url_);
    if (admin_url_.empty()) {
      ADD_FAILURE() << "no PostgreSQL URL in " << file << " (did the postgres fixture start?)";
      return;
    }
    static std::atomic<int> counter{0};
    name_ = "mg_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    sql::PostgresDatabase(admin_url_).exec("CREATE DATABASE " + name_);
    url_ = admin_url_.substr(0, admin_url_.rfind('/') + 1) + name_;
  }
  ~TestPostgres() {
    if (name_.empty()) return;
    try {
      sql::PostgresDatabase(admin_url_).exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (...) {
    }
  }
  TestPostgres(const TestPostgres&) = delete;
  TestPostgres& operator=(const TestPostgres&) = delete;

  bool available() const { return !url_.empty(); }
  const std::string& url() const { return url_; }

 private:
  std::string admin_url_;
  std::string name_;
  std::string url_;
};

// Per test: the engine's database (PostgreSQL: a fresh one) and options pointing at it.
class EngineDatabase {
 public:
  explicit EngineDatabase(Engine engine) : engine_(engine) {
    if (engine == Engine::kPostgres) postgres_ = std::make_unique<TestPostgres>();
  }
  // False when this engine cannot run here (PostgreSQL without the test server): skip.
  bool available() const { return engine_ == Engine::kSqlite || postgres_->available(); }
  // Sets options.postgres_url for the PostgreSQL engine.
  RegistryOptions with(RegistryOptions options) const {
    if (engine_ == Engine::kPostgres) options.postgres_url = postgres_->url();
    return options;
  }
  // A direct connection to the engine's database (SQLite: <data_dir>/registry.db).
  std::unique_ptr<sql::Database> open(const std::filesystem::path& data_dir) const {
    if (engine_ == Engine::kPostgres)
      return std::make_unique<sql::PostgresDatabase>(postgres_->url());
    return std::make_unique<sql::SqliteDatabase>(data_dir / "registry.db");
  }
  Engine engine() const { return engine_; }

 private:
  Engine engine_;
  std::unique_ptr<TestPostgres> postgres_;
};

}  // namespace mg::registry::testing
