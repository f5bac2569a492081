// Fuzzes the artifact signature file format (registry/artifact_signature.h). A file
// that parses must survive format → parse unchanged, and verifying it against a real
// Ed25519 key must not crash (it must not verify: the fuzzer cannot forge).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "registry/artifact_signature.h"
#include "registry/registry_error.h"
#include "tests/fuzz/fuzz_finding.h"

namespace {
constexpr char kPublic[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAkv3BV0b/9qcA5tIBUbh5dtOE/CMPAqIDHSCAnEZsLwE=\n"
    "-----END PUBLIC KEY-----\n";
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mg::registry;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  ArtifactSignature parsed;
  try {
    parsed = parse_signature(text);
  } catch (const RegistryError&) {
    return 0;
  }
  const ArtifactSignature again = parse_signature(format_signature(parsed));
  if (again.digest != parsed.digest || again.public_key != parsed.public_key ||
      again.signature != parsed.signature) {
    mg::fuzz::finding("format(parse(x)) does not parse back to the same signature");
  }
  if (parsed.digest.size() != 64 || parsed.public_key.size() != 64 ||
      parsed.signature.size() != 64) {
    mg::fuzz::finding("a parsed signature has fields of the wrong size");
  }
  (void)verify_signature(parsed, kPublic);
  return 0;
}
