#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>

namespace mg::gateway {

// What the RateLimit-* response headers say about one limit.
struct LimitState {
  int64_t limit = 0;      // RateLimit-Limit
  int64_t remaining = 0;  // RateLimit-Remaining
  int64_t reset = 0;      // RateLimit-Reset: seconds until the limit is whole again
};

// The outcome of asking a limit for one request.
struct Admission {
  bool allowed = true;
  LimitState state;
  int64_t retry_after = 0;  // seconds, when refused
};

// Per-key token buckets (docs/contracts.md "Rate limits"): `rate` tokens per second up to `burst`.
// No global lock on the hot path: keys hash to one of 64 shards (a shared lock to find the
// bucket, exclusive only the first time a key is seen) and each bucket has its own mutex.
// Memory is one small bucket per key that has made a request.
class RateLimiter {
 public:
  // Takes one token for the key at time now_ns (any monotonic nanoseconds). rate <= 0
  // means unlimited: nullopt. burst <= 0 means max(1, ceil(rate)).
  std::optional<Admission> take(const std::string& key_id, double rate, int64_t burst,
                                int64_t now_ns);

 private:
  struct Bucket {
    std::mutex mutex;
    double tokens = -1;  // < 0: not yet filled
    int64_t updated_ns = 0;
  };
  struct Shard {
    std::shared_mutex mutex;
    std::unordered_map<std::string, std::unique_ptr<Bucket>> buckets;
  };
  Bucket& bucket_for(const std::string& key_id);

  std::array<Shard, 64> shards_;
};

}  // namespace mg::gateway
