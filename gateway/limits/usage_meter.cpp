#include "gateway/limits/usage_meter.h"

#include "common/log.h"
#include "registry/registry.h"

namespace mg::gateway {

UsageMeter::UsageMeter(registry::Registry& registry, QuotaTracker& quotas,
                       std::chrono::milliseconds interval)
    : registry_(registry), quotas_(quotas), flusher_([this, interval] {
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
  Key key{now - now % 3600, tenant, key_id, model, version};
  Shard& shard = shards_[std::hash<std::string>{}(key_id) % shards_.size()];
  std::lock_guard lock(shard.mutex);
  Counts& counts = shard.counts[key];
  ++counts.requests;
  counts.items += static_cast<int64_t>(items);
  counts.errors += error ? 1 : 0;
}

bool UsageMeter::flush() {
  std::lock_guard flushing(flush_mutex_);
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
      Shard& shard = shards_[std::hash<std::string>{}(row.key_id) % shards_.size()];
      std::lock_guard lock(shard.mutex);
      Counts& counts = shard.counts[Key{row.hour, row.tenant, row.key_id, row.model, row.version}];
      counts.requests += row.requests;
      counts.items += row.items;
      counts.errors += row.errors;
    }
    return false;
  }
}

}  // namespace mg::gateway
