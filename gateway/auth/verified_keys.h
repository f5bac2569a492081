#pragma once

#include <cstdint>
#include <string_view>

namespace mg::gateway {

// The bearer keys this thread verified last, so that a client sending its key on every
// request does not pay for an HMAC each time (OpenSSL's MAC context copy is ~12
// allocations and ~2 % of a small model's request). An entry answers only for the exact
// key it verified (compared in constant time), for the authenticator that verified it,
// and while the registry still holds the hash it matched: a rotated, revoked or removed
// key misses. The cost: up to 16 recently presented keys per thread stay in memory.
namespace verified_keys {

// A number no other authenticator in this process has (a destroyed one's address may
// come again; its number does not).
uint64_t new_owner();

// Whether `owner` verified `presented` against `secret_hash`, the registry's hash now.
bool contains(uint64_t owner, std::string_view presented, std::string_view secret_hash);

// Records that `owner` verified `presented` against `secret_hash`.
void remember(uint64_t owner, std::string_view presented, std::string_view secret_hash);

}  // namespace verified_keys
}  // namespace mg::gateway
