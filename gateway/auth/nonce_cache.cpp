#include "auth/nonce_cache.h"

#include <functional>
#include <string_view>

namespace mg::gateway {

NonceCache::Result NonceCache::insert(const std::string& key_id, const std::string& nonce,
                                      int64_t expires, int64_t now) {
  const uint64_t entry = std::hash<std::string>{}(key_id + ":" + nonce);
  Shard& shard = shards_[entry % kShards];
  std::lock_guard lock(shard.mutex);
  // Entries leave in arrival order once expired. Timestamps within the accepted window
  // make expiries nearly ordered; an entry stuck behind a later one lives a little longer,
  // which only makes the cache stricter.
  while (!shard.by_expiry.empty() && shard.by_expiry.front().first < now) {
    shard.seen.erase(shard.by_expiry.front().second);
    shard.by_expiry.pop_front();
  }
  if (shard.seen.count(entry) != 0) return Result::kReplayed;
  if (shard.seen.size() >= per_shard_) return Result::kFull;
  shard.seen.insert(entry);
  shard.by_expiry.emplace_back(expires, entry);
  return Result::kFresh;
}

}  // namespace mg::gateway
