#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mg::gateway {

// API keys: "mg_<id>_<secret>", id 12 characters of [a-z0-9], secret 40 of base62
// (docs/contracts.md "Authentication"). The id is public (logs, metrics, audit); the secret is
// shown once and never stored.
struct ParsedKey {
  std::string_view id;
  std::string_view secret;
};

// Splits a presented key; nullopt when it does not have the documented shape.
std::optional<ParsedKey> parse_api_key(std::string_view key);

// A fresh key from OpenSSL's CSPRNG (uniform over the alphabets: rejection sampling).
std::string generate_api_key();

// True when `id` is 12 characters of [a-z0-9].
bool valid_key_id(std::string_view id);

}  // namespace mg::gateway
