#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace mg::registry::sql {

// The registry's SQL is written once, in the subset SQLite and PostgreSQL share (`?`
// placeholders, INSERT ... ON CONFLICT, integers for booleans); each engine implements
// this interface. Failures throw RegistryError: kDatabase for a failed statement, kIo for
// a full disk, kUnavailable when the database server cannot be reached.
enum class Engine { kSqlite, kPostgres };

// One engine's prepared statement (see Statement).
class StatementImpl {
 public:
  virtual ~StatementImpl() = default;
  virtual void bind_int(int index, int64_t value) = 0;
  virtual void bind_real(int index, double value) = 0;
  virtual void bind_text(int index, std::string_view text) = 0;
  virtual void bind_blob(int index, std::span<const std::byte> blob) = 0;
  virtual void bind_null(int index) = 0;
  virtual bool step() = 0;
  virtual void reset() = 0;
  virtual int64_t column_int(int index) const = 0;
  virtual double column_real(int index) const = 0;
  virtual std::string column_text(int index) const = 0;
  virtual std::string column_blob(int index) const = 0;
  virtual bool column_is_null(int index) const = 0;
};

// A prepared statement. Bind with 1-based indexes, step, read columns (0-based).
// reset() clears the bindings for the next run.
class Statement {
 public:
  explicit Statement(std::unique_ptr<StatementImpl> impl) : impl_(std::move(impl)) {}

  Statement& bind(int index, int64_t value) {
    impl_->bind_int(index, value);
    return *this;
  }
  Statement& bind_real(int index, double value) {
    impl_->bind_real(index, value);
    return *this;
  }
  Statement& bind(int index, std::string_view text) {
    impl_->bind_text(index, text);
    return *this;
  }
  Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Statement& bind_blob(int index, std::span<const std::byte> blob) {
    impl_->bind_blob(index, blob);
    return *this;
  }
  Statement& bind_null(int index) {
    impl_->bind_null(index);
    return *this;
  }

  // Advances to the next row: true when a row is available, false when done.
  bool step() { return impl_->step(); }
  // Steps to completion, for statements without results.
  void run() {
    while (step()) {
    }
  }
  void reset() { impl_->reset(); }

  int64_t column_int(int index) const { return impl_->column_int(index); }
  double column_real(int index) const { return impl_->column_real(index); }
  std::string column_text(int index) const { return impl_->column_text(index); }
  std::string column_blob(int index) const { return impl_->column_blob(index); }
  bool column_is_null(int index) const { return impl_->column_is_null(index); }

 private:
  std::unique_ptr<StatementImpl> impl_;
};

// One connection. Not thread-safe: one thread uses a connection at a time.
class Database {
 public:
  virtual ~Database() = default;
  virtual Engine engine() const = 0;
  // Runs one or more statements without results or parameters.
  virtual void exec(const std::string& sql) = 0;
  virtual Statement prepare(std::string_view sql) = 0;
  // Rows changed by the last INSERT, UPDATE or DELETE run.
  virtual int changes() const = 0;
  // A write transaction that excludes every other writer of the same database, whichever
  // process it runs in, from its start (so two writers never deadlock on a lock upgrade
  // and read-modify-write sequences such as "next version number" stay consistent).
  virtual void begin_write() = 0;
  // A read-only transaction over one consistent snapshot (the catalogue is read in one).
  virtual void begin_read() = 0;
  virtual void commit() = 0;
  virtual void rollback() noexcept = 0;
};

// begin_write() (or begin_read()) on construction; rollback on destruction unless
// commit() ran.
class Transaction {
 public:
  enum class Kind { kWrite, kRead };
  explicit Transaction(Database& db, Kind kind = Kind::kWrite) : db_(db) {
    kind == Kind::kWrite ? db_.begin_write() : db_.begin_read();
  }
  ~Transaction() {
    if (!done_) db_.rollback();
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit() {
    db_.commit();
    done_ = true;
  }

 private:
  Database& db_;
  bool done_ = false;
};

}  // namespace mg::registry::sql
