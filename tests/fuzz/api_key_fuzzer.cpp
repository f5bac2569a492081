// Fuzzes API key parsing. A key that parses must have the documented shape and be
// exactly "mg_" + id + "_" + secret.
#include <cstddef>
#include <cstdint>
#include <string>

#include "gateway/auth/api_key.h"
#include "tests/fuzz/fuzz_finding.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string key(reinterpret_cast<const char*>(data), size);
  const auto parsed = mg::gateway::parse_api_key(key);
  if (!parsed) return 0;
  if (!mg::gateway::valid_key_id(parsed->id)) mg::fuzz::finding("parsed id is not a key id");
  if (parsed->secret.size() != 40) mg::fuzz::finding("secret is not 40 characters");
  if ("mg_" + std::string(parsed->id) + "_" + std::string(parsed->secret) != key) {
    mg::fuzz::finding("parsed parts do not make up the key");
  }
  return 0;
}
