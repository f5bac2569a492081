// The memory of verified bearer keys: an entry answers only for its exact key, its
// authenticator and the hash it matched; a key landing in the same slot evicts it.
#include "gateway/auth/verified_keys.h"

#include <gtest/gtest.h>

#include <string>

namespace mg::gateway {
namespace {

TEST(VerifiedKeysTest, AnEntryAnswersOnlyForItsKeyOwnerAndHash) {
  const uint64_t owner = verified_keys::new_owner();
  const uint64_t other_owner = verified_keys::new_owner();
  EXPECT_NE(owner, other_owner);
  const std::string key = "mg_abcdefghijkl_secretsecretsecret";
  EXPECT_FALSE(verified_keys::contains(owner, key, "hash-1"));
  verified_keys::remember(owner, key, "hash-1");
  EXPECT_TRUE(verified_keys::contains(owner, key, "hash-1"));
  EXPECT_FALSE(verified_keys::contains(other_owner, key, "hash-1"));  // another authenticator
  EXPECT_FALSE(verified_keys::contains(owner, key, "hash-2"));        // the registry's hash moved
  EXPECT_FALSE(verified_keys::contains(owner, key + "x", "hash-1"));
  EXPECT_FALSE(verified_keys::contains(owner, key.substr(0, key.size() - 1), "hash-1"));
}

TEST(VerifiedKeysTest, ManyKeysEvictOlderOnesAndAllStayExact) {
  const uint64_t owner = verified_keys::new_owner();
  for (int i = 0; i < 200; ++i) {
    verified_keys::remember(owner, "mg_key_" + std::to_string(i), "h" + std::to_string(i));
  }
  int remembered = 0;
  for (int i = 0; i < 200; ++i) {
    const std::string key = "mg_key_" + std::to_string(i);
    remembered += verified_keys::contains(owner, key, "h" + std::to_string(i));
    EXPECT_FALSE(verified_keys::contains(owner, key, "h" + std::to_string(i + 1)));
  }
  EXPECT_GT(remembered, 0);
  EXPECT_LE(remembered, 16);  // the memory is bounded
}

}  // namespace
}  // namespace mg::gateway
