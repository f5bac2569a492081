#include "gateway/limits/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace mg::gateway {

RateLimiter::Bucket& RateLimiter::bucket_for(const std::string& key_id) {
  Shard& shard = shards_[std::hash<std::string>{}(key_id) % shards_.size()];
  {
    std::shared_lock read(shard.mutex);
    auto it = shard.buckets.find(key_id);
    if (it != shard.buckets.end()) return *it->second;
  }
  std::unique_lock write(shard.mutex);
  auto& bucket = shard.buckets[key_id];
  if (!bucket) bucket = std::make_unique<Bucket>();
  return *bucket;  // buckets are never removed, so the reference stays valid
}

std::optional<Admission> RateLimiter::take(const std::string& key_id, double rate, int64_t burst,
                                           int64_t now_ns) {
  if (!(rate > 0)) return std::nullopt;
  const double capacity = burst > 0 ? static_cast<double>(burst) : std::max(1.0, std::ceil(rate));
  Bucket& bucket = bucket_for(key_id);
  std::lock_guard lock(bucket.mutex);
  if (bucket.tokens < 0) {
    bucket.tokens = capacity;
  } else if (now_ns > bucket.updated_ns) {
    bucket.tokens = std::min(
        capacity, bucket.tokens + rate * static_cast<double>(now_ns - bucket.updated_ns) / 1e9);
  }
  bucket.updated_ns = std::max(bucket.updated_ns, now_ns);
  Admission admission;
  admission.allowed = bucket.tokens >= 1.0;
  if (admission.allowed) bucket.tokens -= 1.0;
  admission.state.limit = static_cast<int64_t>(capacity);
  admission.state.remaining = static_cast<int64_t>(std::floor(bucket.tokens));
  admission.state.reset = static_cast<int64_t>(std::ceil((capacity - bucket.tokens) / rate));
  if (!admission.allowed) {
    admission.retry_after =
        std::max<int64_t>(1, static_cast<int64_t>(std::ceil((1.0 - bucket.tokens) / rate)));
  }
  return admission;
}

}  // namespace mg::gateway
