#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_set>
#include <utility>

namespace mg::gateway {

// Remembers (key id, nonce) pairs of signed requests for as long as their timestamp could
// still be accepted, so each nonce is accepted once (DESIGN.md "Authentication"). Entries
// are 64-bit hashes of the pair (about 50 bytes each with their bookkeeping); a collision
// can only make a fresh request look replayed, and the client signs again. Bounded: at
// most `capacity` entries; when full, new nonces are refused rather than old ones
// forgotten, since forgetting would allow a replay. 16 shards by hash.
class NonceCache {
 public:
  // 4M entries: up to ~200 MB, enough for ~13,000 signed requests/s sustained over the
  // 300 s an entry lives.
  explicit NonceCache(std::size_t capacity = 4'000'000) : per_shard_(capacity / kShards + 1) {}

  enum class Result { kFresh, kReplayed, kFull };
  // Records the nonce until `expires` (unix seconds); entries expire as time passes.
  Result insert(const std::string& key_id, const std::string& nonce, int64_t expires, int64_t now);

 private:
  static constexpr std::size_t kShards = 16;
  struct Shard {
    std::mutex mutex;
    std::unordered_set<uint64_t> seen;
    std::deque<std::pair<int64_t, uint64_t>> by_expiry;  // expiries arrive nearly ordered
  };
  std::size_t per_shard_;
  std::array<Shard, kShards> shards_;
};

}  // namespace mg::gateway
