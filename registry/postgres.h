#pragma once

#include <chrono>
#include <string>

#include "registry/sql.h"

struct pg_conn;

namespace mg::registry::sql {

// One PostgreSQL connection (the cluster registry), through libpq. Statements are sent
// with PQexecParams: `?` placeholders become $1.. (outside quoted text), parameters go as
// text except blobs (binary bytea), results come back as text.
//
// A lost connection (server stopped, network cut) makes the statement throw
// RegistryError(kUnavailable); the next statement first tries to reconnect, so the
// registry recovers by itself when the server is back.
class PostgresDatabase final : public Database {
 public:
  // url: a libpq connection URI or key=value string. Connects at once and throws
  // kUnavailable when the server cannot be reached.
  explicit PostgresDatabase(std::string url);
  ~PostgresDatabase() override;
  PostgresDatabase(const PostgresDatabase&) = delete;
  PostgresDatabase& operator=(const PostgresDatabase&) = delete;

  Engine engine() const override { return Engine::kPostgres; }
  void exec(const std::string& sql) override;
  Statement prepare(std::string_view sql) override;
  int changes() const override { return changes_; }
  // BEGIN, then a transaction-scoped advisory lock every writer of the catalogue takes:
  // writers on different replicas take turns exactly as two threads of one process do.
  void begin_write() override;
  void begin_read() override;
  void commit() override { exec("COMMIT"); }
  void rollback() noexcept override;

  // The connection, reconnected first when it was lost (throws kUnavailable when that fails).
  pg_conn* connection();
  // Records a failure of the last command: kUnavailable when the connection is gone,
  // kDatabase otherwise.
  [[noreturn]] void fail(const std::string& what);
  void set_changes(int changes) { changes_ = changes; }

 private:
  std::string url_;
  pg_conn* conn_ = nullptr;
  int changes_ = 0;
};

// Opens a libpq connection with the project's defaults (a connect timeout unless the URL
// sets one). Never returns null; check PQstatus.
pg_conn* connect_postgres(const std::string& url);

// Listens on one NOTIFY channel over a connection of its own.
class PostgresListener {
 public:
  PostgresListener(std::string url, std::string channel);
  ~PostgresListener();
  PostgresListener(const PostgresListener&) = delete;
  PostgresListener& operator=(const PostgresListener&) = delete;

  enum class Event { kNotified, kTimeout, kDisconnected };
  // Waits up to `timeout` for a notification. kDisconnected: the connection is down (it
  // is retried on the next call); notifications sent meanwhile are lost, so the caller
  // must re-check what it watches.
  Event wait(std::chrono::milliseconds timeout);

 private:
  bool ensure_listening();
  std::string url_;
  std::string channel_;
  pg_conn* conn_ = nullptr;
};

}  // namespace mg::registry::sql
