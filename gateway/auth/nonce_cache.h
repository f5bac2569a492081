#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace mg::gateway {

// Remembers (key id, nonce) pairs of signed requests for as long as their timestamp could
// still be accepted, so each nonce is accepted once (docs/contracts.md "Authentication"). Entries
// are 64-bit hashes of the pair; a collision can only make a fresh request look replayed,
// and the client signs again. Bounded twice: at most `capacity` entries in all, and at most
// `per_key` for any one key, so one key (a leaked one, or a tenant without a rate limit)
// cannot fill the cache and lock every other key's signed requests out. When a bound is
// reached new nonces are refused rather than old ones forgotten: forgetting would allow a
// replay. A key's entries all live in one of 16 shards (chosen by the key id).
class NonceCache {
 public:
  // 4M entries (~250 MB at most), 200,000 per key: ~660 signed requests/s sustained by one
  // key over the 300 s an entry lives (a rate-limited key spends nonces only within its
  // rate: the limiter runs before the nonce is spent).
  explicit NonceCache(std::size_t capacity = 4'000'000, std::size_t per_key = 200'000)
      : per_shard_(capacity / kShards + 1), per_key_(per_key) {}

  enum class Result { kFresh, kReplayed, kFull };
  // Records the nonce until `expires` (unix seconds); entries expire as time passes.
  Result insert(const std::string& key_id, const std::string& nonce, int64_t expires, int64_t now);
  // Whether the nonce was already accepted (insert() returned kFresh for it, unexpired).
  bool contains(const std::string& key_id, const std::string& nonce);

 private:
  static constexpr std::size_t kShards = 16;
  struct Entry {
    int64_t expires;
    uint64_t hash;
    std::string key_id;  // 12 characters: held inline (short-string optimisation)
  };
  struct Shard {
    std::mutex mutex;
    std::unordered_set<uint64_t> seen;
    std::unordered_map<std::string, std::size_t> per_key;  // live entries per key id
    std::deque<Entry> by_expiry;                           // expiries arrive nearly ordered
  };
  std::size_t per_shard_;
  std::size_t per_key_;
  std::array<Shard, kShards> shards_;
};

}  // namespace mg::gateway
