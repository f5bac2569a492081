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
// still be accepted, so each nonce is accepted once (DESIGN.md "Authentication"). Bounded:
// at most `capacity` entries (about 100 bytes each); when full, new nonces are refused
// rather than old ones forgotten, since forgetting would allow a replay. Sharded by key.
class NonceCache {
 public:
  explicit NonceCache(std::size_t capacity = 1'000'000) : per_shard_(capacity / kShards + 1) {}

  enum class Result { kFresh, kReplayed, kFull };
  // Records the nonce until `expires` (unix seconds); entries expire as time passes.
  Result insert(const std::string& key_id, const std::string& nonce, int64_t expires, int64_t now);

 private:
  static constexpr std::size_t kShards = 16;
  struct Shard {
    std::mutex mutex;
    std::unordered_set<std::string> seen;
    std::deque<std::pair<int64_t, std::string>> by_expiry;  // expiries arrive nearly ordered
  };
  std::size_t per_shard_;
  std::array<Shard, kShards> shards_;
};

}  // namespace mg::gateway
