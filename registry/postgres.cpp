#include "registry/postgres.h"

#include <libpq-fe.h>
#include <poll.h>

#include <charconv>
#include <cstdlib>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "registry/registry_error.h"

namespace mg::registry::sql {
namespace {

constexpr Oid kByteaOid = 17;
// The advisory lock every catalogue writer takes ("mg" + "registry" in ASCII, any
// constant would do as long as all replicas agree).
constexpr const char* kWriteLock = "SELECT pg_advisory_xact_lock(7882415174)";

// `?` → `$n`, except inside quoted text or identifiers.
std::string numbered_placeholders(std::string_view sql, int& count) {
  std::string out;
  out.reserve(sql.size() + 16);
  char quote = 0;
  count = 0;
  for (char c : sql) {
    if (quote != 0) {
      if (c == quote) quote = 0;
      out += c;
    } else if (c == '\'' || c == '"') {
      quote = c;
      out += c;
    } else if (c == '?') {
      out += '$' + std::to_string(++count);
    } else {
      out += c;
    }
  }
  return out;
}

std::string error_text(pg_conn* conn) {
  std::string message = conn != nullptr ? PQerrorMessage(conn) : "out of memory";
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  return message;
}

class PostgresStatement final : public StatementImpl {
 public:
  PostgresStatement(PostgresDatabase& db, std::string_view sql) : db_(db) {
    int count = 0;
    sql_ = numbered_placeholders(sql, count);
    params_.resize(count);
  }
  ~PostgresStatement() override { PQclear(result_); }
  PostgresStatement(const PostgresStatement&) = delete;
  PostgresStatement& operator=(const PostgresStatement&) = delete;

  void bind_int(int index, int64_t value) override { param(index) = Param{std::to_string(value)}; }
  void bind_real(int index, double value) override {
    char buffer[32];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
    param(index) = Param{std::string(buffer, end)};
  }
  void bind_text(int index, std::string_view text) override {
    param(index) = Param{std::string(text)};
  }
  void bind_blob(int index, std::span<const std::byte> blob) override {
    param(index) =
        Param{std::string(reinterpret_cast<const char*>(blob.data()), blob.size()), true};
  }
  void bind_null(int index) override { param(index) = std::nullopt; }

  bool step() override {
    if (result_ == nullptr) execute();
    if (row_ + 1 < PQntuples(result_)) {
      ++row_;
      return true;
    }
    return false;
  }
  void reset() override {
    PQclear(result_);
    result_ = nullptr;
    row_ = -1;
    for (auto& p : params_) p.reset();
  }

  int64_t column_int(int index) const override {
    const char* text = value(index);
    return text != nullptr ? std::strtoll(text, nullptr, 10) : 0;
  }
  double column_real(int index) const override {
    const char* text = value(index);
    return text != nullptr ? std::strtod(text, nullptr) : 0.0;
  }
  std::string column_text(int index) const override {
    const char* text = value(index);
    return text != nullptr ? std::string(text, PQgetlength(result_, row_, index)) : std::string();
  }
  std::string column_blob(int index) const override {
    const char* text = value(index);
    if (text == nullptr) return {};
    size_t size = 0;
    unsigned char* bytes = PQunescapeBytea(reinterpret_cast<const unsigned char*>(text), &size);
    if (bytes == nullptr)
      throw RegistryError(RegistryError::Code::kDatabase, "postgresql: bad bytea");
    std::string out(reinterpret_cast<const char*>(bytes), size);
    PQfreemem(bytes);
    return out;
  }
  bool column_is_null(int index) const override { return PQgetisnull(result_, row_, index) != 0; }

 private:
  struct Param {
    std::string value;
    bool binary = false;
  };
  std::optional<Param>& param(int index) {
    if (index < 1 || index > static_cast<int>(params_.size())) {
      throw RegistryError(RegistryError::Code::kDatabase,
                          "postgresql: no parameter " + std::to_string(index));
    }
    return params_[index - 1];
  }
  const char* value(int index) const {
    if (result_ == nullptr || row_ < 0 || index >= PQnfields(result_) ||
        PQgetisnull(result_, row_, index)) {
      return nullptr;
    }
    return PQgetvalue(result_, row_, index);
  }

  void execute() {
    const int n = static_cast<int>(params_.size());
    std::vector<const char*> values(n);
    std::vector<int> lengths(n), formats(n);
    std::vector<Oid> types(n);
    for (int i = 0; i < n; ++i) {
      if (!params_[i]) continue;
      values[i] = params_[i]->value.data();
      lengths[i] = static_cast<int>(params_[i]->value.size());
      formats[i] = params_[i]->binary ? 1 : 0;
      types[i] = params_[i]->binary ? kByteaOid : 0;
    }
    pg_conn* conn = db_.connection();
    result_ = PQexecParams(conn, sql_.c_str(), n, types.data(), values.data(), lengths.data(),
                           formats.data(), 0);
    const ExecStatusType status = PQresultStatus(result_);
    if (status == PGRES_COMMAND_OK) {
      db_.set_changes(std::atoi(PQcmdTuples(result_)));
    } else if (status != PGRES_TUPLES_OK) {
      PQclear(result_);
      result_ = nullptr;
      db_.fail(sql_.substr(0, 60));
    }
    row_ = -1;
  }

  PostgresDatabase& db_;
  std::string sql_;
  std::vector<std::optional<Param>> params_;
  PGresult* result_ = nullptr;
  int row_ = -1;
};

}  // namespace

pg_conn* connect_postgres(const std::string& url) {
  // Ours first: the URL's own settings, later in the list, override them.
  const char* keywords[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {"5", "modelgate", url.c_str(), nullptr};
  return PQconnectdbParams(keywords, values, 1);
}

PostgresDatabase::PostgresDatabase(std::string url) : url_(std::move(url)) {
  conn_ = connect_postgres(url_);
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string why = error_text(conn_);
    PQfinish(conn_);
    conn_ = nullptr;
    throw RegistryError(RegistryError::Code::kUnavailable, "postgresql unreachable: " + why);
  }
  exec("SET client_min_messages = warning");
}

PostgresDatabase::~PostgresDatabase() { PQfinish(conn_); }

pg_conn* PostgresDatabase::connection() {
  if (conn_ == nullptr) conn_ = connect_postgres(url_);
  if (PQstatus(conn_) != CONNECTION_OK) {
    PQreset(conn_);
    if (PQstatus(conn_) != CONNECTION_OK) {
      throw RegistryError(RegistryError::Code::kUnavailable,
                          "postgresql unreachable: " + error_text(conn_));
    }
  }
  return conn_;
}

void PostgresDatabase::fail(const std::string& what) {
  const bool lost = PQstatus(conn_) != CONNECTION_OK;
  throw RegistryError(
      lost ? RegistryError::Code::kUnavailable : RegistryError::Code::kDatabase,
      (lost ? "postgresql unreachable: " : "postgresql: ") + error_text(conn_) + " (" + what + ")");
}

void PostgresDatabase::exec(const std::string& sql) {
  pg_conn* conn = connection();
  std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(conn, sql.c_str()), PQclear);
  const ExecStatusType status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) fail(sql.substr(0, 60));
}

Statement PostgresDatabase::prepare(std::string_view sql) {
  return Statement(std::make_unique<PostgresStatement>(*this, sql));
}

void PostgresDatabase::begin_write() {
  exec("BEGIN");
  exec(kWriteLock);
}

void PostgresDatabase::begin_read() { exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); }

void PostgresDatabase::rollback() noexcept {
  if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK) PQclear(PQexec(conn_, "ROLLBACK"));
}

PostgresListener::PostgresListener(std::string url, std::string channel)
    : url_(std::move(url)), channel_(std::move(channel)) {}

PostgresListener::~PostgresListener() { PQfinish(conn_); }

bool PostgresListener::ensure_listening() {
  if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK) return true;
  PQfinish(conn_);
  conn_ = connect_postgres(url_);
  if (PQstatus(conn_) != CONNECTION_OK) return false;
  std::unique_ptr<PGresult, decltype(&PQclear)> result(
      PQexec(conn_, ("LISTEN " + channel_).c_str()), PQclear);
  return PQresultStatus(result.get()) == PGRES_COMMAND_OK;
}

PostgresListener::Event PostgresListener::wait(std::chrono::milliseconds timeout) {
  if (!ensure_listening()) {
    std::this_thread::sleep_for(timeout);
    return Event::kDisconnected;
  }
  pollfd fd{PQsocket(conn_), POLLIN, 0};
  const int ready = poll(&fd, 1, static_cast<int>(timeout.count()));
  if (ready < 0) return Event::kTimeout;  // EINTR: the caller checks again
  if (ready > 0 && PQconsumeInput(conn_) == 0) return Event::kDisconnected;
  bool notified = false;
  while (PGnotify* notify = PQnotifies(conn_)) {
    notified = true;
    PQfreemem(notify);
  }
  if (PQstatus(conn_) != CONNECTION_OK) return Event::kDisconnected;
  return notified ? Event::kNotified : Event::kTimeout;
}

}  // namespace mg::registry::sql
