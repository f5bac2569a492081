#include "gateway/auth/nonce_cache.h"

#include <functional>
#include <string_view>

namespace mg::gateway {

NonceCache::Result NonceCache::insert(const std::string& key_id, const std::string& nonce,
                                      int64_t expires, int64_t now) {
  const uint64_t hash = std::hash<std::string>{}(key_id + ":" + nonce);
  Shard& shard = shards_[std::hash<std::string>{}(key_id) % kShards];
  std::lock_guard lock(shard.mutex);
  // Entries leave in arrival order once expired. Timestamps within the accepted window
  // make expiries nearly ordered; an entry stuck behind a later one lives a little longer,
  // which only makes the cache stricter.
  while (!shard.by_expiry.empty() && shard.by_expiry.front().expires < now) {
    Entry& old = shard.by_expiry.front();
    shard.seen.erase(old.hash);
    if (auto it = shard.per_key.find(old.key_id); it != shard.per_key.end() && --it->second == 0) {
      shard.per_key.erase(it);
    }
    shard.by_expiry.pop_front();
  }
  if (shard.seen.count(hash) != 0) return Result::kReplayed;
  std::size_t& mine = shard.per_key[key_id];
  if (shard.seen.size() >= per_shard_ || mine >= per_key_) {
    if (mine == 0) shard.per_key.erase(key_id);
    return Result::kFull;
  }
  shard.seen.insert(hash);
  ++mine;
  shard.by_expiry.push_back(Entry{expires, hash, key_id});
  return Result::kFresh;
}

bool NonceCache::contains(const std::string& key_id, const std::string& nonce) {
  const uint64_t hash = std::hash<std::string>{}(key_id + ":" + nonce);
  Shard& shard = shards_[std::hash<std::string>{}(key_id) % kShards];
  std::lock_guard lock(shard.mutex);
  return shard.seen.count(hash) != 0;
}

}  // namespace mg::gateway
