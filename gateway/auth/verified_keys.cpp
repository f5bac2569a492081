#include "gateway/auth/verified_keys.h"

#include <openssl/crypto.h>

#include <array>
#include <atomic>
#include <functional>
#include <string>

namespace mg::gateway::verified_keys {
namespace {

struct Entry {
  uint64_t owner = 0;  // 0: empty
  std::string key;
  std::string hash;
};

// Direct-mapped by the key's hash: a key always lands in one slot, a newer one evicts it.
constexpr std::size_t kSlots = 16;
thread_local std::array<Entry, kSlots> entries;

Entry& slot_of(std::string_view presented) {
  return entries[std::hash<std::string_view>{}(presented) % kSlots];
}

bool same(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

uint64_t new_owner() {
  static std::atomic<uint64_t> last{0};
  return ++last;
}

bool contains(uint64_t owner, std::string_view presented, std::string_view secret_hash) {
  const Entry& entry = slot_of(presented);
  return entry.owner == owner && same(entry.key, presented) && same(entry.hash, secret_hash);
}

void remember(uint64_t owner, std::string_view presented, std::string_view secret_hash) {
  Entry& entry = slot_of(presented);
  entry.owner = owner;
  entry.key.assign(presented);
  entry.hash.assign(secret_hash);
}

}  // namespace mg::gateway::verified_keys
