#include "gateway/limits/usage_meter.h"

#include "common/log.h"
#include "registry/registry.h"

namespace mg::gateway {

UsageMeter::UsageMeter(registry::Registry& registry, QuotaTracker& quotas,
                       std::chrono::milliseconds interval, std::shared_ptr<RedisUsage> shared)
    : registry_(registry), quotas_(quotas), shared_(std::move(shared)), flusher_([this, interval] {
        std::unique_lock lock(stop_mutex_);
        while (!stop_cv_.wait_for(lock, interval, [this] { return stopping_; })) {
          lock.unlock();
          flush();
          lock.lock();
        }
      }) {}

UsageMeter::~UsageMeter() {
  {
    std::lock_guard lock(stop_mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  flusher_.join();
  flush();
}

void UsageMeter::record(const std::string& tenant, const std::string& key_id,
                        const std::string& model, int64_t version, uint64_t items, bool error,
                        int64_t now) {
  add({usage_of_request(tenant, key_id, model, version, static_cast<int64_t>(items), error, now)});
}

std::vector<registry::UsageRow> UsageMeter::correction(
    const registry::UsageRow& counted, const std::optional<registry::UsageRow>& outcome) {
  auto same_row = [&](const registry::UsageRow& r) {
    return r.tenant == counted.tenant && r.key_id == counted.key_id && r.model == counted.model &&
           r.version == counted.version;
  };
  std::vector<registry::UsageRow> deltas;
  if (outcome && same_row(*outcome)) {
    registry::UsageRow delta = counted;  // counted's hour: one request, one row
    delta.requests = outcome->requests - counted.requests;
    delta.items = outcome->items - counted.items;
    delta.errors = outcome->errors - counted.errors;
    if (delta.requests != 0 || delta.items != 0 || delta.errors != 0) deltas.push_back(delta);
    return deltas;
  }
  registry::UsageRow undo = counted;
  undo.requests = -counted.requests;
  undo.items = -counted.items;
  undo.errors = -counted.errors;
  deltas.push_back(undo);
  if (outcome) deltas.push_back(*outcome);
  return deltas;
}

void UsageMeter::add(const std::vector<registry::UsageRow>& deltas) {
  if (deltas.empty()) return;
  if (shared_) {
    try {
      shared_->record(deltas);
      return;
    } catch (const RedisUnavailable& e) {
      return count_in_memory(deltas, e.what());
    }
  }
  count_in_memory(deltas, {});
}

void UsageMeter::add_async(std::vector<registry::UsageRow> deltas, EventLoop& loop,
                           std::function<void()> done) {
  if (!shared_ || deltas.empty()) {
    add(deltas);
    return done();
  }
  auto counted = std::make_shared<std::vector<registry::UsageRow>>(std::move(deltas));
  shared_->record_async(*counted, loop,
                        [this, counted, done = std::move(done)](const std::string& error) {
                          if (!error.empty()) count_in_memory(*counted, error);
                          done();
                        });
}

void UsageMeter::count_in_memory(const std::vector<registry::UsageRow>& deltas,
                                 const std::string& why) {
  if (!why.empty()) {
    // Counted here instead of in Redis, and added to the ledger by this replica's next flush.
    const int64_t seconds = std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::steady_clock::now().time_since_epoch())
                                .count();
    if (seconds - last_redis_error_log_.exchange(seconds) >= 10) {
      log(LogLevel::kError, "usage kept in memory while Redis cannot be reached: " + why);
    }
  }
  for (const registry::UsageRow& d : deltas) {
    count_in_memory(Key{d.hour, d.tenant, d.key_id, d.model, d.version},
                    Counts{d.requests, d.items, d.errors});
  }
}

void UsageMeter::count_in_memory(const Key& key, const Counts& delta) {
  Shard& shard = shards_[std::hash<std::string>{}(std::get<2>(key)) % shards_.size()];
  std::lock_guard lock(shard.mutex);
  Counts& counts = shard.counts[key];
  counts.requests += delta.requests;
  counts.items += delta.items;
  counts.errors += delta.errors;
}

bool UsageMeter::flush() {
  std::lock_guard flushing(flush_mutex_);
  const bool memory = flush_memory();
  return flush_shared() && memory;
}

bool UsageMeter::flush_memory() {
  std::vector<registry::UsageRow> rows;
  for (Shard& shard : shards_) {
    std::map<Key, Counts> taken;
    {
      std::lock_guard lock(shard.mutex);
      taken.swap(shard.counts);
    }
    for (auto& [key, counts] : taken) {
      const auto& [hour, tenant, key_id, model, version] = key;
      rows.push_back(
          {hour, tenant, key_id, model, version, counts.requests, counts.items, counts.errors});
    }
  }
  std::vector<registry::QuotaRow> quota = quotas_.drain();
  if (rows.empty() && quota.empty()) return true;
  try {
    registry_.add_usage(rows, quota);
    return true;
  } catch (const std::exception& e) {
    log(LogLevel::kError, std::string("usage flush failed, retrying next time: ") + e.what());
    quotas_.restore(quota);
    for (const auto& row : rows) {
      count_in_memory(Key{row.hour, row.tenant, row.key_id, row.model, row.version},
                      Counts{row.requests, row.items, row.errors});
    }
    return false;
  }
}

bool UsageMeter::flush_shared() {
  if (!shared_) return true;
  try {
    const std::optional<RedisUsage::Batch> batch = shared_->claim();
    if (!batch) return true;  // nothing to add, or another replica is adding it
    // A batch the ledger already has (a flusher died before deleting it) is only deleted.
    registry_.add_usage_batch(batch->id, batch->rows);
    shared_->settle(*batch);
    return true;
  } catch (const std::exception& e) {
    // The batch stays pending in Redis under its id: the next flush, here or on another
    // replica, adds it (or finds it added) then.
    log(LogLevel::kError,
        std::string("shared usage flush failed, retrying next time: ") + e.what());
    return false;
  }
}

}  // namespace mg::gateway
