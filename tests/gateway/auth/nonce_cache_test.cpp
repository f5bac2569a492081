#include "gateway/auth/nonce_cache.h"

#include <gtest/gtest.h>

#include <string>

namespace mg::gateway {
namespace {

TEST(NonceCacheTest, RemembersUntilExpiryAndRefusesWhenFull) {
  NonceCache cache(16 * 4, 5);  // 5 per shard and 5 per key
  EXPECT_EQ(cache.insert("k", "n0", 100, 0), NonceCache::Result::kFresh);
  EXPECT_EQ(cache.insert("k", "n0", 100, 50), NonceCache::Result::kReplayed);
  EXPECT_EQ(cache.insert("j", "n0", 100, 50), NonceCache::Result::kFresh);  // another key
  int fresh = 1, full = 0;
  for (int i = 1; i < 200; ++i) {
    const auto r = cache.insert("k", "n" + std::to_string(i), 100, 50);
    fresh += r == NonceCache::Result::kFresh;
    full += r == NonceCache::Result::kFull;
  }
  EXPECT_EQ(fresh, 5);  // the key's budget
  EXPECT_EQ(full, 200 - 5);
  // Once expired, entries leave and their nonces are fresh again.
  EXPECT_EQ(cache.insert("k", "n0", 200, 101), NonceCache::Result::kFresh);
  EXPECT_EQ(cache.insert("k", "n199", 200, 101), NonceCache::Result::kFresh);
}

// One key spending nonces as fast as it can fills its own budget, never the cache: every
// other key's signed requests still get through.
TEST(NonceCacheTest, OneKeyCannotLockOthersOut) {
  NonceCache cache(16 * 1000, 100);
  for (int i = 0; i < 50'000; ++i) cache.insert("greedy", "n" + std::to_string(i), 100, 0);
  for (int k = 0; k < 200; ++k) {
    EXPECT_EQ(cache.insert("key" + std::to_string(k), "n0", 100, 0), NonceCache::Result::kFresh)
        << k;
  }
}

}  // namespace
}  // namespace mg::gateway
