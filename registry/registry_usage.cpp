// Registry: usage metering and quota counters, written by the gateway's meter about once a
// second and read by `mgctl usage` and at startup (quotas survive restarts).
#include "registry/registry.h"

namespace mg::registry {

void Registry::add_usage_rows(const std::vector<UsageRow>& usage) {
  auto add_row = db_->prepare(
      "INSERT INTO usage (hour, tenant, key_id, model, version, requests, items, errors) "
      "VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (hour, tenant, key_id, model, version) DO UPDATE "
      "SET requests = usage.requests + excluded.requests, items = usage.items + excluded.items, "
      "errors = usage.errors + excluded.errors");
  for (const auto& row : usage) {
    add_row.bind(1, row.hour)
        .bind(2, row.tenant)
        .bind(3, row.key_id)
        .bind(4, row.model)
        .bind(5, row.version)
        .bind(6, row.requests)
        .bind(7, row.items)
        .bind(8, row.errors)
        .run();
    add_row.reset();
  }
}

void Registry::add_usage(const std::vector<UsageRow>& usage, const std::vector<QuotaRow>& quota) {
  if (usage.empty() && quota.empty()) return;
  std::lock_guard lock(write_mutex_);
  sql::Transaction transaction(*db_);
  add_usage_rows(usage);
  auto add_quota = db_->prepare(
      "INSERT INTO quota_usage (tenant, period_start, used) VALUES (?,?,?) "
      "ON CONFLICT (tenant, period_start) DO UPDATE SET used = quota_usage.used + excluded.used");
  for (const auto& row : quota) {
    add_quota.bind(1, row.tenant).bind(2, row.period_start).bind(3, row.used).run();
    add_quota.reset();
  }
  transaction.commit();
}

bool Registry::add_usage_batch(const std::string& batch_id, const std::vector<UsageRow>& usage) {
  const int64_t now = options_.clock_ms() / 1000;
  std::lock_guard lock(write_mutex_);
  // The write transaction serialises this with every other replica's (PostgreSQL: the
  // registry's advisory lock), so "seen before?" and "remember it" cannot interleave.
  sql::Transaction transaction(*db_);
  auto seen = db_->prepare("SELECT 1 FROM usage_batches WHERE id = ?");
  seen.bind(1, batch_id);
  if (seen.step()) return false;
  db_->prepare("INSERT INTO usage_batches (id, applied_at) VALUES (?, ?)")
      .bind(1, batch_id)
      .bind(2, now)
      .run();
  db_->prepare("DELETE FROM usage_batches WHERE applied_at < ?")
      .bind(1, now - kUsageBatchMemorySeconds)
      .run();
  add_usage_rows(usage);
  transaction.commit();
  return true;
}

std::vector<UsageRow> Registry::usage(const std::string& tenant, int64_t since,
                                      int64_t until) const {
  std::lock_guard lock(write_mutex_);
  auto statement = db_->prepare(
      "SELECT hour, tenant, key_id, model, version, requests, items, errors FROM usage "
      "WHERE hour >= ? AND (? = 0 OR hour < ?) AND (? = '' OR tenant = ?) "
      "ORDER BY hour, tenant, key_id, model, version");
  statement.bind(1, since).bind(2, until).bind(3, until).bind(4, tenant).bind(5, tenant);
  std::vector<UsageRow> rows;
  while (statement.step()) {
    rows.push_back(UsageRow{statement.column_int(0), statement.column_text(1),
                            statement.column_text(2), statement.column_text(3),
                            statement.column_int(4), statement.column_int(5),
                            statement.column_int(6), statement.column_int(7)});
  }
  return rows;
}

std::vector<QuotaRow> Registry::quota_usage(int64_t since) const {
  std::lock_guard lock(write_mutex_);
  auto statement =
      db_->prepare("SELECT tenant, period_start, used FROM quota_usage WHERE period_start >= ?");
  statement.bind(1, since);
  std::vector<QuotaRow> rows;
  while (statement.step()) {
    rows.push_back(
        QuotaRow{statement.column_text(0), statement.column_int(1), statement.column_int(2)});
  }
  return rows;
}

}  // namespace mg::registry
