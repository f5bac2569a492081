#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "common/clock.h"
#include "gateway/auth/auth_error.h"
#include "gateway/auth/key_crypto.h"
#include "gateway/auth/nonce_cache.h"
#include "gateway/http/http_types.h"
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

// A signed request's parts, kept when the body is not known yet (streamed uploads).
struct SignedParts {
  std::string key_id, timestamp, nonce, signature, method, target;
};

// What the head of a request proves: bearer requests are fully authenticated; signed
// ones still need their signature checked against the body's SHA-256 (verify_body).
struct HeadAuth {
  Principal principal;
  std::optional<SignedParts> pending;
};

struct IssuedKey {
  registry::KeyRecord record;
  std::string key;  // the full key: shown once, never stored
};

// Authentication and authorisation on the request path (docs/contracts.md "Authentication").
// Keys are looked up in the registry's in-memory catalogue, which every change rebuilds,
// so a revocation applies to the very next request; secrets are checked by comparing a
// keyed hash in constant time. Every refusal is an AuthError (auth_error.h).
class Authenticator {
 public:
  Authenticator(registry::Registry& registry, KeyCrypto crypto,
                WallClock clock_ms = {});  // default: the registry's clock

  // A bearer key or a signed request (MG1-HMAC-SHA256, docs/contracts.md "Authentication").
  // 401 missing_credentials | invalid_key | signature_required | bad_signature |
  // stale_timestamp | replayed_nonce | ambiguous_credentials.
  Principal authenticate(const HttpRequest& request);
  // The same, except that a signed request's nonce is returned unspent: the caller spends
  // it (spend_nonce) once the request has passed its rate limit, so that requests refused
  // there use up neither nonces nor the replay cache.
  struct Deferred {
    Principal principal;
    std::optional<SignedParts> nonce_to_spend;
  };
  Deferred authenticate_deferring_nonce(const HttpRequest& request);
  // Until when (unix seconds) a signed request's nonce must stay spent: as long as its
  // timestamp could still be accepted.
  static int64_t nonce_expiry(const SignedParts& parts);
  // 401 replayed_nonce; 429 rate_limited when the key's replay budget is spent.
  void spend_nonce(const SignedParts& parts);
  // The same from the head alone; see HeadAuth.
  HeadAuth authenticate_head(const HttpRequest& head) const;
  // authenticate_head's result for a bearer request, to be handed back with the whole
  // request (HttpRequest::head_state): authenticate() then checks only that the key is
  // still live, not its secret again. Null for signed requests (their signature covers
  // the body, checked once it has arrived).
  static std::shared_ptr<const void> remember_head(HeadAuth head);
  // Checks a pending signature against the body's lowercase hex SHA-256, then spends its
  // nonce. 401 bad_signature | replayed_nonce.
  void verify_body(const SignedParts& parts, std::string_view body_sha256_hex);
  // The signature check alone (verify_body without spending the nonce).
  void verify_signature(const SignedParts& parts, std::string_view body_sha256_hex) const;

  // The string a signed request's HMAC covers.
  static std::string string_to_sign(std::string_view method, std::string_view target,
                                    std::string_view timestamp, std::string_view nonce,
                                    std::string_view body_sha256_hex);
  // 403 forbidden unless the key has the scope / may use the model.
  static void require_scope(const Principal& principal, registry::KeyScope scope);
  static void require_model(const Principal& principal, const std::string& model);
  static bool may_use_model(const Principal& principal, const std::string& model);

  // Creates a key for an existing tenant; the registry stores its hash and sealed secret.
  IssuedKey issue_key(const KeySpec& spec, const std::string& actor);

 private:
  int64_t now_ms() const;
  // The key a request names, if live (not revoked, not expired); else 401 invalid_key.
  const registry::KeyRecord& live_key(std::string_view id) const;
  HeadAuth signed_head(const HttpRequest& head) const;
  // The head's authentication: remembered from the head stage (re-checked for liveness)
  // when the request carries it, else authenticate_head.
  HeadAuth head_of(const HttpRequest& request) const;

  registry::Registry& registry_;
  KeyCrypto crypto_;
  uint64_t verified_keys_owner_;  // this authenticator's entries in verified_keys
  WallClock clock_ms_;
  // Signed requests older than this (unix seconds: when the authenticator, so the process,
  // started) are stale: the replay cache starts empty, and a request captured before a
  // restart must not be accepted again after it.
  int64_t not_before_s_ = 0;
  NonceCache nonces_;
};

}  // namespace mg::gateway
