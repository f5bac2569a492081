#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "api/http_types.h"
#include "auth/key_crypto.h"
#include "registry/records.h"

namespace mg::registry {
class Registry;
}

namespace mg::gateway {

// Who is calling: the key that authenticated the request, copied out of the catalogue.
struct Principal {
  std::string key_id;
  std::string tenant;
  uint32_t scopes = 0;
  std::string models = "*";  // glob over model names
  double rate = 0;
  int64_t burst = 0;
};

// What a new key is allowed (everything but its secret).
struct KeySpec {
  std::string tenant;
  uint32_t scopes = registry::kScopeInfer;
  std::string models = "*";
  double rate = 0;
  int64_t burst = 0;
  bool signed_only = false;
  int64_t expires_at = 0;  // unix milliseconds; 0 = never
};

struct IssuedKey {
  registry::KeyRecord record;
  std::string key;  // the full key: shown once, never stored
};

// Authentication and authorisation on the request path (DESIGN.md "Authentication").
// Keys are looked up in the registry's in-memory catalogue, which every change rebuilds,
// so a revocation applies to the very next request; secrets are checked by comparing a
// keyed hash in constant time. Every refusal is an ApiError in the error contract.
class Authenticator {
 public:
  Authenticator(registry::Registry& registry, KeyCrypto crypto,
                std::function<int64_t()> clock_ms = {});

  // 401 missing_credentials | invalid_key | signature_required.
  Principal authenticate(const HttpRequest& request) const;
  // 403 forbidden unless the key has the scope / may use the model.
  static void require_scope(const Principal& principal, registry::KeyScope scope);
  static void require_model(const Principal& principal, const std::string& model);
  static bool may_use_model(const Principal& principal, const std::string& model);

  // Creates a key for an existing tenant; the registry stores its hash and sealed secret.
  IssuedKey issue_key(const KeySpec& spec, const std::string& actor);

 private:
  int64_t now_ms() const;

  registry::Registry& registry_;
  KeyCrypto crypto_;
  std::function<int64_t()> clock_ms_;
};

}  // namespace mg::gateway
