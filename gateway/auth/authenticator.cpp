#include "gateway/auth/authenticator.h"

#include <fnmatch.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <stdexcept>

#include "gateway/auth/api_key.h"
#include "gateway/auth/auth_error.h"
#include "gateway/auth/verified_keys.h"
#include "modelgate/signing.h"
#include "registry/registry.h"
#include "registry/sha256.h"

namespace mg::gateway {
namespace {

// The SHA-256 (lowercase hex) of what a signed request's signature covers: its body, or
// for a translated gRPC call the call's message (HttpRequest::signed_as).
std::string signed_body_sha256(const HttpRequest& request) {
  if (request.signed_as) return request.signed_as->body_sha256_hex;
  return registry::sha256_hex(std::as_bytes(std::span(request.body.data(), request.body.size())));
}

AuthError unauthorized(const std::string& code, const std::string& message) {
  return AuthError(401, code, message);
}

// For header names (HTTP tokens) against names of letters, digits and '-' (see
// HttpRequest::header).
bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

}  // namespace

Authenticator::Authenticator(registry::Registry& registry, KeyCrypto crypto,
                             std::function<int64_t()> clock_ms)
    : registry_(registry),
      crypto_(std::move(crypto)),
      verified_keys_owner_(verified_keys::new_owner()),
      clock_ms_(clock_ms ? std::move(clock_ms) : registry.clock()) {
  not_before_s_ = now_ms() / 1000;
}

int64_t Authenticator::now_ms() const { return clock_ms_(); }

namespace {

constexpr int64_t kSignatureWindowSeconds = 300;

bool all_of_set(std::string_view text, std::string_view allowed) {
  return text.find_first_not_of(allowed) == std::string_view::npos;
}

Principal principal_of(const registry::KeyRecord& key) {
  return Principal{key.id, key.tenant, key.scopes, key.models, key.rate, key.burst};
}

}  // namespace

std::string Authenticator::string_to_sign(std::string_view method, std::string_view target,
                                          std::string_view timestamp, std::string_view nonce,
                                          std::string_view body_sha256_hex) {
  return modelgate::string_to_sign(method, target, timestamp, nonce, body_sha256_hex);
}

const registry::KeyRecord& Authenticator::live_key(std::string_view id) const {
  const registry::KeyRecord* key = registry_.snapshot().find_key(id);
  if (key == nullptr) throw unauthorized("invalid_key", "the API key is not valid");
  if (key->revoked_at != 0) throw unauthorized("invalid_key", "the API key has been revoked");
  if (key->expires_at != 0 && now_ms() >= key->expires_at) {
    throw unauthorized("invalid_key", "the API key has expired");
  }
  return *key;
}

namespace {

bool is_signing_header(std::string_view name) {
  for (std::string_view h : {"X-MG-Key-Id", "X-MG-Timestamp", "X-MG-Nonce", "X-MG-Signature"}) {
    if (iequals(name, h)) return true;
  }
  return false;
}

// A request carries one set of credentials, each header once: a bearer key beside signing
// headers, or a header sent twice, leaves which one counts to the parser (the first? the
// last? a proxy's choice?), so it is refused rather than guessed. Returns whether the
// request carries signing headers (one scan of the headers serves both).
bool refuse_ambiguous_credentials(const HttpRequest& request) {
  int authorization = 0, signing = 0;
  std::string_view seen[4];
  for (const auto& [name, value] : request.headers) {
    if (iequals(name, "Authorization")) {
      ++authorization;
    } else if (is_signing_header(name)) {
      for (int i = 0; i < signing; ++i) {
        if (iequals(seen[i], name)) {
          throw unauthorized("ambiguous_credentials", "the header " + name + " is sent twice");
        }
      }
      if (signing < 4) seen[signing] = name;
      ++signing;
    }
  }
  if (authorization > 1) {
    throw unauthorized("ambiguous_credentials", "the Authorization header is sent twice");
  }
  if (authorization > 0 && signing > 0) {
    throw unauthorized("ambiguous_credentials",
                       "send either a bearer key (Authorization) or a signature (X-MG-*), not "
                       "both");
  }
  return signing > 0;
}

}  // namespace

HeadAuth Authenticator::authenticate_head(const HttpRequest& request) const {
  if (refuse_ambiguous_credentials(request)) return signed_head(request);
  const std::string_view authorization = request.header("Authorization");
  if (authorization.empty()) {
    throw unauthorized("missing_credentials",
                       "send an API key ('Authorization: Bearer mg_<id>_<secret>') or sign the "
                       "request (X-MG-Key-Id, X-MG-Timestamp, X-MG-Nonce, X-MG-Signature)");
  }
  constexpr std::string_view kBearer = "Bearer ";
  if (!authorization.starts_with(kBearer)) {
    throw unauthorized("missing_credentials",
                       "the Authorization header must be 'Bearer mg_<id>_<secret>'");
  }
  const std::string_view presented = authorization.substr(kBearer.size());
  const auto parsed = parse_api_key(presented);
  if (!parsed) {
    throw unauthorized("invalid_key", "the API key is malformed: expected mg_<id>_<secret>");
  }
  const registry::KeyRecord* key = registry_.snapshot().find_key(parsed->id);
  // (an unknown id costs the HMAC too: the answer's timing does not tell which ids exist)
  if (key == nullptr ||
      !verified_keys::contains(verified_keys_owner_, presented, key->secret_hash)) {
    const std::string hash = crypto_.hash_key(presented);
    if (key == nullptr || key->secret_hash.size() != hash.size() ||
        CRYPTO_memcmp(key->secret_hash.data(), hash.data(), hash.size()) != 0) {
      throw unauthorized("invalid_key", "the API key is not valid");
    }
    verified_keys::remember(verified_keys_owner_, presented, key->secret_hash);
  }
  // The secret is right: the caller owns the key and may learn why it no longer works.
  const registry::KeyRecord& live = live_key(parsed->id);
  if (live.signed_only) {
    throw unauthorized("signature_required",
                       "this key accepts only signed requests (X-MG-Signature); the secret "
                       "must not travel with the request");
  }
  return HeadAuth{principal_of(live), std::nullopt};
}

HeadAuth Authenticator::signed_head(const HttpRequest& request) const {
  SignedParts parts{std::string(request.header("X-MG-Key-Id")),
                    std::string(request.header("X-MG-Timestamp")),
                    std::string(request.header("X-MG-Nonce")),
                    std::string(request.header("X-MG-Signature")),
                    request.signed_as ? std::string("POST") : request.method,
                    request.signed_as ? request.signed_as->target : request.target};
  for (const auto& [name, value] :
       {std::pair{"X-MG-Key-Id", &parts.key_id}, std::pair{"X-MG-Timestamp", &parts.timestamp},
        std::pair{"X-MG-Nonce", &parts.nonce}, std::pair{"X-MG-Signature", &parts.signature}}) {
    if (value->empty()) {
      throw unauthorized("bad_signature", std::string("a signed request needs ") + name);
    }
  }
  if (!valid_key_id(parts.key_id)) {
    throw unauthorized("invalid_key", "X-MG-Key-Id is not a key id (12 characters of a-z 0-9)");
  }
  if (parts.timestamp.size() > 12 || !all_of_set(parts.timestamp, "0123456789")) {
    throw unauthorized("stale_timestamp", "X-MG-Timestamp must be unix seconds");
  }
  const int64_t now = now_ms() / 1000;
  const int64_t timestamp = std::stoll(parts.timestamp);
  if (timestamp < now - kSignatureWindowSeconds || timestamp > now + kSignatureWindowSeconds) {
    throw unauthorized("stale_timestamp",
                       "X-MG-Timestamp is more than 300 s from the server's "
                       "clock (" +
                           std::to_string(now) + ")");
  }
  if (timestamp < not_before_s_) {
    throw unauthorized("stale_timestamp", "X-MG-Timestamp is older than the server's start (" +
                                              std::to_string(not_before_s_) +
                                              "): sign the request again");
  }
  if (parts.nonce.size() < 16 || parts.nonce.size() > 64 ||
      !all_of_set(parts.nonce,
                  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")) {
    throw unauthorized("bad_signature", "X-MG-Nonce must be 16-64 characters of A-Z a-z 0-9 _ -");
  }
  if (parts.signature.size() != 64 || !all_of_set(parts.signature, "0123456789abcdef")) {
    throw unauthorized("bad_signature", "X-MG-Signature must be 64 lowercase hex characters");
  }
  // Whether the key is revoked or expired is told only to a caller whose signature proves
  // it holds the key (verify_body); before that, an unknown id is all anyone learns.
  const registry::KeyRecord* key = registry_.snapshot().find_key(parts.key_id);
  if (key == nullptr) throw unauthorized("invalid_key", "the API key is not valid");
  Principal principal = principal_of(*key);
  return HeadAuth{std::move(principal), std::move(parts)};
}

void Authenticator::verify_signature(const SignedParts& parts,
                                     std::string_view body_sha256_hex) const {
  const registry::KeyRecord* key = registry_.snapshot().find_key(parts.key_id);
  if (key == nullptr) throw unauthorized("invalid_key", "the API key is not valid");
  auto secret = crypto_.open(key->secret_sealed, key->id);
  if (!secret) throw unauthorized("invalid_key", "the API key is not valid");
  const std::string message =
      string_to_sign(parts.method, parts.target, parts.timestamp, parts.nonce, body_sha256_hex);
  const std::optional<std::string> expected = hmac_sha256_hex(*secret, message);
  OPENSSL_cleanse(secret->data(), secret->size());
  // A failed HMAC must refuse, never compare an empty MAC (which any signature matched).
  if (!expected) throw std::runtime_error("HMAC-SHA256 failed while verifying a signature");
  if (expected->size() != parts.signature.size() ||
      CRYPTO_memcmp(expected->data(), parts.signature.data(), expected->size()) != 0) {
    throw unauthorized("bad_signature",
                       "the signature does not match the request (method, target, timestamp, "
                       "nonce and body hash as sent)");
  }
  live_key(parts.key_id);  // the caller holds the key: it may learn why it no longer works
}

int64_t Authenticator::nonce_expiry(const SignedParts& parts) {
  return std::stoll(parts.timestamp) + kSignatureWindowSeconds;
}

void Authenticator::spend_nonce(const SignedParts& parts) {
  const int64_t now = now_ms() / 1000;
  switch (nonces_.insert(parts.key_id, parts.nonce,
                         std::stoll(parts.timestamp) + kSignatureWindowSeconds, now)) {
    case NonceCache::Result::kFresh:
      return;
    case NonceCache::Result::kReplayed:
      throw unauthorized("replayed_nonce",
                         "this nonce was already used; sign again with a new one");
    case NonceCache::Result::kFull:
      throw AuthError(429, "rate_limited",
                      "key " + parts.key_id +
                          " has sent too many signed requests in the 300 s "
                          "replay window",
                      5);
  }
}

void Authenticator::verify_body(const SignedParts& parts, std::string_view body_sha256_hex) {
  verify_signature(parts, body_sha256_hex);
  spend_nonce(parts);
}

Authenticator::Deferred Authenticator::authenticate_deferring_nonce(const HttpRequest& request) {
  HeadAuth head = head_of(request);
  if (head.pending) {
    verify_signature(*head.pending, signed_body_sha256(request));
    // A replay is refused before the limits see it (it must not spend the tenant's quota);
    // the nonce itself is spent after them.
    if (nonces_.contains(head.pending->key_id, head.pending->nonce)) {
      throw unauthorized("replayed_nonce",
                         "this nonce was already used; sign again with a new one");
    }
  }
  return Deferred{std::move(head.principal), std::move(head.pending)};
}

std::shared_ptr<const void> Authenticator::remember_head(HeadAuth head) {
  if (head.pending) return nullptr;
  return std::make_shared<const HeadAuth>(std::move(head));
}

HeadAuth Authenticator::head_of(const HttpRequest& request) const {
  // Only the router's route_stream sets head_state, and only from remember_head.
  if (const auto* remembered = static_cast<const HeadAuth*>(request.head_state.get())) {
    // The secret was checked on this request's own head; the key may have been revoked or
    // changed while the body arrived: its current record decides.
    return HeadAuth{principal_of(live_key(remembered->principal.key_id)), std::nullopt};
  }
  return authenticate_head(request);
}

Principal Authenticator::authenticate(const HttpRequest& request) {
  HeadAuth head = head_of(request);
  if (head.pending) {
    verify_body(*head.pending, signed_body_sha256(request));
  }
  return std::move(head.principal);
}

void Authenticator::require_scope(const Principal& principal, registry::KeyScope scope) {
  if ((principal.scopes & scope) == 0) {
    throw AuthError(
        403, "forbidden",
        "key " + principal.key_id + " lacks the '" + registry::scopes_text(scope) + "' scope");
  }
}

bool Authenticator::may_use_model(const Principal& principal, const std::string& model) {
  return fnmatch(principal.models.c_str(), model.c_str(), 0) == 0;
}

void Authenticator::require_model(const Principal& principal, const std::string& model) {
  if (!may_use_model(principal, model)) {
    throw AuthError(403, "forbidden",
                    "key " + principal.key_id + " may not use model '" + model + "'");
  }
}

IssuedKey Authenticator::issue_key(const KeySpec& spec, const std::string& actor) {
  const std::string key = generate_api_key();
  const auto parsed = parse_api_key(key);
  registry::KeyRecord record;
  record.id = std::string(parsed->id);
  record.tenant = spec.tenant;
  record.scopes = spec.scopes;
  record.models = spec.models;
  record.rate = spec.rate;
  record.burst = spec.burst;
  record.signed_only = spec.signed_only;
  record.expires_at = spec.expires_at;
  record.secret_hash = crypto_.hash_key(key);
  record.secret_sealed = crypto_.seal(key, record.id);
  return IssuedKey{registry_.add_key(record, actor), key};
}

}  // namespace mg::gateway
