// Authentication and authorisation through the router: every 401/403 code of this stage,
// revocation on the next request, expiry, model globs, scopes on every admin route, and
// that the database alone cannot authenticate.
#include <array>

#include "gateway/api/errors.h"
#include "gateway/auth/api_key.h"
#include "tests/gateway/api/router_fixture.h"

namespace mg::gateway {
namespace {

using AuthTest = RouterTest;

const std::string kMeta = "/v2/models/fashion-mlp";

TEST_F(AuthTest, HealthNeedsNoKeyEverythingElseDoes) {
  const std::vector<std::pair<std::string, std::string>> anonymous = {{"Authorization", ""}};
  EXPECT_EQ(call("GET", "/v2/health/live", "", anonymous).status, 200);
  EXPECT_EQ(call("GET", "/v2/health/ready", "", anonymous).status, 200);
  for (const auto& [method, target] :
       std::vector<std::pair<std::string, std::string>>{{"GET", "/v2"},
                                                        {"GET", kMeta},
                                                        {"GET", kMeta + "/ready"},
                                                        {"POST", kMeta + "/infer"},
                                                        {"GET", "/admin/v1/models"}}) {
    expect_error(call(method, target, "", anonymous), 401, "missing_credentials", "Bearer");
  }
}

TEST_F(AuthTest, MalformedUnknownAndWrongKeysAreInvalid) {
  auto with = [&](const std::string& authorization) {
    return call("GET", kMeta, "", {{"Authorization", authorization}});
  };
  expect_error(with("Basic dXNlcjpwYXNz"), 401, "missing_credentials", "Bearer");
  expect_error(with("Bearer nonsense"), 401, "invalid_key", "malformed");
  std::string wrong_secret = key_;
  wrong_secret.back() = wrong_secret.back() == 'A' ? 'B' : 'A';
  expect_error(with("Bearer " + wrong_secret), 401, "invalid_key", "not valid");
  expect_error(with("Bearer " + generate_api_key()), 401, "invalid_key", "not valid");
  EXPECT_EQ(with("Bearer " + key_).status, 200);
}

TEST_F(AuthTest, AWrongSecretIsRefusedAfterTheRightOneWasAccepted) {
  // The right key is remembered as verified; the same id with another secret is not it.
  EXPECT_EQ(call("GET", kMeta).status, 200);
  std::string wrong_secret = key_;
  wrong_secret.back() = wrong_secret.back() == 'A' ? 'B' : 'A';
  expect_error(call("GET", kMeta, "", {{"Authorization", "Bearer " + wrong_secret}}), 401,
               "invalid_key", "not valid");
  EXPECT_EQ(call("GET", kMeta).status, 200);
}

TEST_F(AuthTest, RevocationAppliesToTheNextRequest) {
  EXPECT_EQ(call("GET", kMeta).status, 200);
  const std::string id(parse_api_key(key_)->id);
  EXPECT_EQ(admin("DELETE", "/admin/v1/keys/" + id).status, 200);
  expect_error(call("GET", kMeta), 401, "invalid_key", "revoked");
}

TEST_F(AuthTest, ExpiredKeysAreRefused) {
  KeySpec spec{"acme", registry::kScopeInfer};
  spec.expires_at = now_ms_ + 60'000;
  const std::string key = auth_->issue_key(spec, "test").key;
  EXPECT_EQ(call("GET", kMeta, "", {{"Authorization", "Bearer " + key}}).status, 200);
  now_ms_ += 60'000;
  expect_error(call("GET", kMeta, "", {{"Authorization", "Bearer " + key}}), 401, "invalid_key",
               "expired");
}

TEST_F(AuthTest, SignedOnlyKeysRefuseBearer) {
  KeySpec spec{"acme", registry::kScopeInfer};
  spec.signed_only = true;
  const std::string key = auth_->issue_key(spec, "test").key;
  expect_error(call("GET", kMeta, "", {{"Authorization", "Bearer " + key}}), 401,
               "signature_required", "signed");
}

TEST_F(AuthTest, ModelGlobLimitsWhatAKeyMayUse) {
  KeySpec spec{"acme", registry::kScopeInfer};
  spec.models = "text-*";
  const std::vector<std::pair<std::string, std::string>> headers = {
      {"Authorization", "Bearer " + auth_->issue_key(spec, "test").key}};
  EXPECT_EQ(call("GET", "/v2/models/text-classifier", "", headers).status, 200);
  expect_error(call("GET", kMeta, "", headers), 403, "forbidden", "fashion-mlp");
  expect_error(call("POST", kMeta + "/infer", mlp_request(), headers), 403, "forbidden",
               "fashion-mlp");
}

TEST_F(AuthTest, AdminOnlyKeysCannotInfer) {
  KeySpec spec{"ops", registry::kScopeAdmin};
  const std::vector<std::pair<std::string, std::string>> headers = {
      {"Authorization", "Bearer " + auth_->issue_key(spec, "test").key}};
  EXPECT_EQ(call("GET", "/admin/v1/models", "", headers).status, 200);
  expect_error(call("POST", kMeta + "/infer", mlp_request(), headers), 403, "forbidden", "infer");
}

// Every admin route and method refuses an infer-scope key before doing anything.
TEST_F(AuthTest, EveryAdminRouteRefusesInferKeys) {
  const std::vector<std::pair<std::string, std::string>> routes = {
      {"GET", "/admin/v1/models"},
      {"POST", "/admin/v1/models"},
      {"GET", "/admin/v1/models/fashion-mlp"},
      {"GET", "/admin/v1/models/fashion-mlp/versions"},
      {"POST", "/admin/v1/models/fashion-mlp/versions"},
      {"GET", "/admin/v1/models/fashion-mlp/versions/1"},
      {"POST", "/admin/v1/models/fashion-mlp/versions/1/load"},
      {"POST", "/admin/v1/models/fashion-mlp/versions/1/unload"},
      {"POST", "/admin/v1/models/fashion-mlp/versions/1/retire"},
      {"GET", "/admin/v1/models/fashion-mlp/aliases"},
      {"PUT", "/admin/v1/models/fashion-mlp/aliases/canary"},
      {"DELETE", "/admin/v1/models/fashion-mlp/aliases/canary"},
      {"GET", "/admin/v1/backends"},
      {"GET", "/admin/v1/tenants"},
      {"POST", "/admin/v1/tenants"},
      {"GET", "/admin/v1/keys"},
      {"POST", "/admin/v1/keys"},
      {"DELETE", "/admin/v1/keys/abcdefabcdef"},
      {"GET", "/admin/v1/audit"},
  };
  const auto audit_before = registry_->audit_log().size();
  for (const auto& [method, target] : routes) {
    SCOPED_TRACE(method + " " + target);
    expect_error(call(method, target, R"({"name":"x","version":1,"tenant":"acme"})"), 403,
                 "forbidden", "admin");
    // The streaming path (uploads) refuses the same way, before reading the body.
    StreamDecision streamed = route_stream(
        HttpRequest{method, target, {{"Authorization", "Bearer " + key_}}, ""}, *services_);
    EXPECT_EQ(streamed.sink, nullptr);
    if (streamed.refusal) {
      EXPECT_EQ(streamed.refusal->status, 403);
    }
  }
  // Nothing changed: the only new audit entries are the refusals themselves.
  for (const auto& entry : registry_->audit_log(static_cast<int64_t>(audit_before))) {
    EXPECT_EQ(entry.action, "admin.refused") << entry.target;
  }
}

TEST_F(AuthTest, TheDatabaseAloneCannotAuthenticate) {
  // The file holds neither the key nor its secret...
  std::string db = read_file(dir_ / "registry.db") + read_file(dir_ / "registry.db-wal");
  const auto parsed = parse_api_key(key_);
  EXPECT_EQ(db.find(key_), std::string::npos);
  EXPECT_EQ(db.find(std::string(parsed->secret)), std::string::npos);
  EXPECT_NE(db.find(std::string(parsed->id)), std::string::npos);  // ids are public
  // ...and the same database with any other master key accepts no key, even one this
  // thread has just verified with the right master key.
  std::array<unsigned char, 32> other{};
  other.fill(8);
  Authenticator stranger(*registry_, KeyCrypto(other));
  HttpRequest request{"GET", kMeta, {{"Authorization", "Bearer " + key_}}, ""};
  EXPECT_NO_THROW(auth_->authenticate(request));
  EXPECT_THROW(stranger.authenticate(request), AuthError);
  EXPECT_NO_THROW(auth_->authenticate(request));
}

TEST(KeyCryptoTest, SealedSecretsOpenOnlyUnchangedForTheirContext) {
  std::array<unsigned char, 32> master{};
  master.fill(1);
  KeyCrypto crypto(master);
  const std::string box = crypto.seal("mg_secret", "abcdefabcdef");
  EXPECT_EQ(box.find("mg_secret"), std::string::npos);
  EXPECT_EQ(crypto.open(box, "abcdefabcdef").value_or(""), "mg_secret");
  EXPECT_FALSE(crypto.open(box, "bbcdefabcdef"));  // moved to another key
  std::string altered = box;
  altered[14] ^= 1;
  EXPECT_FALSE(crypto.open(altered, "abcdefabcdef"));
  EXPECT_FALSE(crypto.open(box.substr(0, 20), "abcdefabcdef"));
  master.fill(2);
  EXPECT_FALSE(KeyCrypto(master).open(box, "abcdefabcdef"));
  EXPECT_NE(crypto.seal("mg_secret", "abcdefabcdef"), box);  // fresh nonce each time
}

TEST(ApiKeyTest, GeneratedKeysHaveTheDocumentedShape) {
  for (int i = 0; i < 100; ++i) {
    const std::string key = generate_api_key();
    ASSERT_EQ(key.size(), 56u);
    const auto parsed = parse_api_key(key);
    ASSERT_TRUE(parsed) << key;
    EXPECT_TRUE(valid_key_id(parsed->id));
  }
  EXPECT_FALSE(parse_api_key("mg_ABCDEFabcdef_" + std::string(40, 'a')));  // id is lowercase
  EXPECT_FALSE(parse_api_key("mg_abcdefabcdef_" + std::string(39, 'a')));
  EXPECT_FALSE(parse_api_key("mg_abcdefabcdef-" + std::string(40, 'a')));
  EXPECT_FALSE(parse_api_key("mg_abcdefabcdef_" + std::string(39, 'a') + "!"));
}

// Every byte value in every position class: the id takes [a-z0-9], the secret [A-Za-z0-9],
// nothing else (a signed char above 127 included).
TEST(ApiKeyTest, EachPartAcceptsExactlyItsAlphabet) {
  auto between = [](int c, char low, char high) { return c >= low && c <= high; };
  for (int c = 0; c < 256; ++c) {
    const bool digit = between(c, '0', '9'), lower = between(c, 'a', 'z'),
               upper = between(c, 'A', 'Z');
    const char ch = static_cast<char>(c);
    EXPECT_EQ(valid_key_id("abcdefabcde" + std::string(1, ch)), digit || lower) << c;
    EXPECT_EQ(parse_api_key("mg_" + std::string(1, ch) + "bcdefabcdef_" + std::string(40, 'a'))
                  .has_value(),
              digit || lower)
        << c;
    EXPECT_EQ(parse_api_key("mg_abcdefabcdef_" + std::string(39, 'a') + ch).has_value(),
              digit || lower || upper)
        << c;
  }
}

}  // namespace
}  // namespace mg::gateway

namespace mg::gateway {
namespace {

// A bearer key checked on the head (route_stream) is not hashed again when the whole
// request arrives, but it is still live-checked then: revoked between head and body, the
// request is refused.
TEST_F(AuthTest, AKeyCheckedOnTheHeadIsCheckedForRevocationWithTheBody) {
  HttpRequest request{
      "POST", "/v2/models/fashion-mlp/infer", {{"Authorization", "Bearer " + key_}}, ""};
  StreamDecision head = route_stream(request, *services_);
  ASSERT_FALSE(head.refusal);
  ASSERT_TRUE(head.head_state);  // the head's verified key, handed back with the body
  request.body = mlp_request();
  request.head_state = head.head_state;
  EXPECT_EQ(route(request, *services_).status, 200);
  registry_->revoke_key(std::string(parse_api_key(key_)->id), "test");
  expect_error(route(request, *services_), 401, "invalid_key", "revoked");
  // A wrong key never gets a head state: it is refused on the head, body unread.
  HttpRequest wrong{
      "POST", "/v2/models/fashion-mlp/infer", {{"Authorization", "Bearer " + wrong_key()}}, ""};
  StreamDecision refused = route_stream(wrong, *services_);
  ASSERT_TRUE(refused.refusal);
  EXPECT_EQ(refused.refusal->status, 401);
  EXPECT_FALSE(refused.head_state);
}

}  // namespace
}  // namespace mg::gateway
