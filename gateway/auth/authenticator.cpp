#include "auth/authenticator.h"

#include <fnmatch.h>
#include <openssl/crypto.h>

#include <chrono>

#include "api/errors.h"
#include "auth/api_key.h"
#include "registry/registry.h"

namespace mg::gateway {
namespace {

ApiError unauthorized(const std::string& code, const std::string& message) {
  return ApiError(401, code, message);
}

}  // namespace

Authenticator::Authenticator(registry::Registry& registry, KeyCrypto crypto,
                             std::function<int64_t()> clock_ms)
    : registry_(registry), crypto_(std::move(crypto)), clock_ms_(std::move(clock_ms)) {}

int64_t Authenticator::now_ms() const {
  if (clock_ms_) return clock_ms_();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Principal Authenticator::authenticate(const HttpRequest& request) const {
  const std::string_view authorization = request.header("Authorization");
  if (authorization.empty()) {
    if (!request.header("X-MG-Signature").empty() || !request.header("X-MG-Key-Id").empty()) {
      throw unauthorized("bad_signature", "signed requests are not enabled on this server");
    }
    throw unauthorized("missing_credentials",
                       "send an API key: 'Authorization: Bearer mg_<id>_<secret>'");
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
  const std::string hash = crypto_.hash_key(presented);
  if (key == nullptr || key->secret_hash.size() != hash.size() ||
      CRYPTO_memcmp(key->secret_hash.data(), hash.data(), hash.size()) != 0) {
    throw unauthorized("invalid_key", "the API key is not valid");
  }
  // The secret is right: the caller owns the key and may learn why it no longer works.
  if (key->revoked_at != 0) throw unauthorized("invalid_key", "the API key has been revoked");
  if (key->expires_at != 0 && now_ms() >= key->expires_at) {
    throw unauthorized("invalid_key", "the API key has expired");
  }
  if (key->signed_only) {
    throw unauthorized("signature_required",
                       "this key accepts only signed requests (X-MG-Signature); the secret "
                       "must not travel with the request");
  }
  return Principal{key->id, key->tenant, key->scopes, key->models, key->rate, key->burst};
}

void Authenticator::require_scope(const Principal& principal, registry::KeyScope scope) {
  if ((principal.scopes & scope) == 0) {
    throw ApiError(
        403, "forbidden",
        "key " + principal.key_id + " lacks the '" + registry::scopes_text(scope) + "' scope");
  }
}

bool Authenticator::may_use_model(const Principal& principal, const std::string& model) {
  return fnmatch(principal.models.c_str(), model.c_str(), 0) == 0;
}

void Authenticator::require_model(const Principal& principal, const std::string& model) {
  if (!may_use_model(principal, model)) {
    throw ApiError(403, "forbidden",
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
