// Signed requests (MG1-HMAC-SHA256) through the router: fixed test vectors shared with
// docs/signing.md, acceptance, every failure code, replay, signed-only keys, and signed
// streamed uploads whose body hash is known only at the end.
#include "gateway/api/kserve_codec.h"
#include "gateway/auth/api_key.h"
#include "modelgate/client.h"
#include "tests/gateway/api/router_fixture.h"

namespace mg::gateway {
namespace {

using SigningTest = RouterTest;

// The vectors of docs/signing.md, computed independently with `openssl dgst -hmac`.
TEST(SigningVectors, MatchTheDocumentedValues) {
  const std::string key = "mg_abcdefghijkl_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn";
  const std::string body_hash = modelgate::sha256_hex(R"({"inputs":[]})");
  EXPECT_EQ(body_hash, "62b512d8c76bbed3048fc81bd94bd2aeaab2de4d3b36edbed2f3d3dd8ff3e33e");
  EXPECT_EQ(modelgate::sign_request(key, "POST", "/v2/models/fashion-mlp/infer", "1700000000",
                                    "0123456789abcdef", body_hash),
            "8db8df078b48b91915be584d44fdde7a42b7cceb7bd9081bf84038ff4af71af5");
  EXPECT_EQ(modelgate::sign_request(key, "GET", "/v2/models/fashion-mlp?x=1", "1700000000",
                                    "nonce_nonce-0001", modelgate::sha256_hex("")),
            "75b4923959bd59772eed4e4e994c5783dc0a0b3ec633493c6fe72b7b33957bec");
  EXPECT_EQ(Authenticator::string_to_sign("GET", "/v2", "1", "n", "h"),
            "MG1-HMAC-SHA256\nGET\n/v2\n1\nn\nh");
}

class SignedRequests : public SigningTest {
 protected:
  // A request signed with `key` at the fixture's clock; `tamper` edits it afterwards.
  HttpRequest signed_request(const std::string& key, const std::string& method,
                             const std::string& target, const std::string& body,
                             const std::string& nonce = "") {
    const std::string n =
        nonce.empty() ? "nonce-" + std::to_string(++nonces_) + "-abcdefghij" : nonce;
    const std::string ts = std::to_string(now_ms_ / 1000);
    return HttpRequest{method,
                       target,
                       {{"X-MG-Key-Id", std::string(parse_api_key(key)->id)},
                        {"X-MG-Timestamp", ts},
                        {"X-MG-Nonce", n},
                        {"X-MG-Signature", modelgate::sign_request(key, method, target, ts, n,
                                                                   modelgate::sha256_hex(body))}},
                       body};
  }
  static void set(HttpRequest& r, const std::string& name, const std::string& value) {
    for (auto& [k, v] : r.headers) {
      if (k == name) v = value;
    }
  }
  int nonces_ = 0;
};

TEST_F(SignedRequests, AValidSignatureAuthenticates) {
  HttpResponse r = route(
      signed_request(key_, "POST", "/v2/models/fashion-mlp/infer", mlp_request()), *services_);
  EXPECT_EQ(r.status, 200) << r.body;
  r = route(signed_request(admin_key_, "GET", "/admin/v1/models?verbose=1", ""), *services_);
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(SignedRequests, EveryAlterationIsABadSignature) {
  now_ms_ += 10'000;  // so that a timestamp a second earlier is still after the server's start
  const std::string target = "/v2/models/fashion-mlp/infer";
  const std::string body = mlp_request();
  auto expect_bad = [&](HttpRequest r, const std::string& what) {
    SCOPED_TRACE(what);
    expect_error(route(r, *services_), 401, "bad_signature", "");
  };
  HttpRequest r = signed_request(key_, "POST", target, body);
  r.body = mlp_request(R"("parameters":{})");
  expect_bad(r, "body");
  r = signed_request(key_, "POST", target, body);
  r.target = "/v2/models/text-classifier/infer";
  expect_bad(r, "target");
  r = signed_request(key_, "POST", target, body);
  r.method = "PUT";
  expect_bad(r, "method");
  r = signed_request(key_, "POST", target, body);
  set(r, "X-MG-Nonce", "another-nonce-123456");
  expect_bad(r, "nonce");
  r = signed_request(key_, "POST", target, body);
  set(r, "X-MG-Timestamp", std::to_string(now_ms_ / 1000 - 1));
  expect_bad(r, "timestamp");
  r = signed_request(admin_key_, "POST", target, body);  // signed with another key
  set(r, "X-MG-Key-Id", std::string(parse_api_key(key_)->id));
  expect_bad(r, "key");
  r = signed_request(key_, "POST", target, body);
  set(r, "X-MG-Nonce", "short");
  expect_bad(r, "nonce format");
  r = signed_request(key_, "POST", target, body);
  set(r, "X-MG-Signature", "ABC");
  expect_bad(r, "signature format");
  r = signed_request(key_, "POST", target, body);
  r.headers.erase(r.headers.begin() + 2);  // no nonce
  expect_bad(r, "missing header");
}

TEST_F(SignedRequests, StaleTimestampsAndReplaysAreRefused) {
  HttpRequest r = signed_request(key_, "GET", "/v2/models/fashion-mlp", "");
  now_ms_ += 301'000;
  expect_error(route(r, *services_), 401, "stale_timestamp", "300 s");
  now_ms_ -= 602'000;
  expect_error(route(r, *services_), 401, "stale_timestamp", "300 s");
  now_ms_ += 301'000;
  EXPECT_EQ(route(r, *services_).status, 200);
  expect_error(route(r, *services_), 401, "replayed_nonce", "nonce");
  // The same nonce with another key is another request.
  EXPECT_EQ(route(signed_request(admin_key_, "GET", "/v2/models/fashion-mlp", "",
                                 r.header("X-MG-Nonce").data()),
                  *services_)
                .status,
            200);
}

TEST_F(SignedRequests, KeysAreStillCheckedWhenSigned) {
  HttpRequest unknown = signed_request(key_, "GET", "/v2/models/fashion-mlp", "");
  set(unknown, "X-MG-Key-Id", "zzzzzzzzzzzz");
  expect_error(route(unknown, *services_), 401, "invalid_key", "");
  ASSERT_EQ(admin("DELETE", "/admin/v1/keys/" + std::string(parse_api_key(key_)->id)).status, 200);
  expect_error(route(signed_request(key_, "GET", "/v2/models/fashion-mlp", ""), *services_), 401,
               "invalid_key", "revoked");
}

// Whether a key is revoked or expired is the key holder's business: a forged signature
// over a known key id learns only that the signature is bad, whatever the key's state.
TEST_F(SignedRequests, AKeysStateIsToldOnlyAfterTheSignatureVerifies) {
  KeySpec spec{"acme", registry::kScopeInfer};
  spec.expires_at = now_ms_ + 1000;
  const std::string expiring = auth_->issue_key(spec, "test").key;
  registry_->revoke_key(std::string(parse_api_key(key_)->id), "test");
  now_ms_ += 2000;
  for (const std::string& key : {key_, expiring}) {
    HttpRequest forged = signed_request(key, "GET", "/v2/models/fashion-mlp", "");
    set(forged, "X-MG-Signature", std::string(64, '0'));
    HttpResponse r = route(forged, *services_);
    expect_error(r, 401, "bad_signature", "");
    EXPECT_EQ(r.body.find("revoked"), std::string::npos) << r.body;
    EXPECT_EQ(r.body.find("expired"), std::string::npos) << r.body;
  }
  expect_error(route(signed_request(key_, "GET", "/v2/models/fashion-mlp", ""), *services_), 401,
               "invalid_key", "revoked");
  expect_error(route(signed_request(expiring, "GET", "/v2/models/fashion-mlp", ""), *services_),
               401, "invalid_key", "expired");
}

// One set of credentials, each header once: anything else is refused, not guessed at.
TEST_F(SignedRequests, MixedOrDuplicatedCredentialsAreRefused) {
  const std::string target = "/v2/models/fashion-mlp";
  HttpRequest mixed = signed_request(key_, "GET", target, "");
  mixed.headers.emplace_back("Authorization", "Bearer " + admin_key_);
  expect_error(route(mixed, *services_), 401, "ambiguous_credentials", "not both");

  HttpRequest bearer_twice{
      "GET", target, {{"Authorization", "Bearer " + key_}, {"authorization", "Bearer x"}}, ""};
  expect_error(route(bearer_twice, *services_), 401, "ambiguous_credentials", "twice");
  HttpRequest bearer_twice_valid{
      "GET",
      target,
      {{"Authorization", "Bearer " + key_}, {"Authorization", "Bearer " + key_}},
      ""};
  expect_error(route(bearer_twice_valid, *services_), 401, "ambiguous_credentials", "twice");

  for (const char* header : {"X-MG-Key-Id", "X-MG-Timestamp", "X-MG-Nonce", "X-MG-Signature"}) {
    SCOPED_TRACE(header);
    HttpRequest twice = signed_request(key_, "GET", target, "");
    std::string value;
    for (const auto& [name, v] : twice.headers) {
      if (name == header) value = v;
    }
    twice.headers.emplace_back(header, value);  // the same value again is still ambiguous
    expect_error(route(twice, *services_), 401, "ambiguous_credentials", "twice");
  }
  // A signing header alone (no signature) is a signed request missing its parts.
  expect_error(call("GET", target, "", {{"Authorization", "Bearer " + key_}, {"X-MG-Nonce", "n"}}),
               401, "ambiguous_credentials", "");
  EXPECT_EQ(route(signed_request(key_, "GET", target, ""), *services_).status, 200);
}

// The rate limit runs before a nonce is spent: a request it refuses leaves no entry in the
// replay cache (so a low-rate key cannot fill the cache with refused requests) and may be
// sent again as it is once the key has tokens.
TEST_F(SignedRequests, RequestsRefusedByTheRateLimitDoNotSpendTheirNonce) {
  KeySpec spec{"acme", registry::kScopeInfer};
  spec.rate = 1;
  spec.burst = 1;
  const std::string slow = auth_->issue_key(spec, "test").key;
  const std::string target = "/v2/models/fashion-mlp";
  EXPECT_EQ(route(signed_request(slow, "GET", target, ""), *services_).status, 200);
  HttpRequest refused = signed_request(slow, "GET", target, "");
  expect_error(route(refused, *services_), 429, "rate_limited", "");
  now_ms_ += 2000;  // a token again, same signature window
  EXPECT_EQ(route(refused, *services_).status, 200) << route(refused, *services_).body;
  now_ms_ += 2000;
  expect_error(route(refused, *services_), 401, "replayed_nonce", "");  // spent once, by a 200
}

// The replay cache starts empty with the process: a request signed before a restart is
// refused after it (its timestamp predates the server's start), not accepted a second time.
TEST_F(SignedRequests, ARequestCapturedBeforeARestartIsNotAcceptedAfterIt) {
  const std::string target = "/v2/models/fashion-mlp";
  now_ms_ += 10'000;
  HttpRequest captured = signed_request(key_, "GET", target, "");
  EXPECT_EQ(route(captured, *services_).status, 200);
  now_ms_ += 20'000;  // the server restarts 20 s later: a new authenticator, an empty cache
  std::array<unsigned char, 32> master{};
  master.fill(7);
  Authenticator restarted(*registry_, KeyCrypto(master), [this] { return now_ms_; });
  Services after{*registry_, *models_, backends_, restarted, "test"};
  expect_error(route(captured, after), 401, "stale_timestamp", "server's start");
  EXPECT_EQ(route(signed_request(key_, "GET", target, ""), after).status, 200);  // signed anew
}

TEST_F(SignedRequests, SignedOnlyKeysWorkSigned) {
  KeySpec spec{"acme", registry::kScopeInfer};
  spec.signed_only = true;
  const std::string key = auth_->issue_key(spec, "test").key;
  expect_error(call("GET", "/v2/models/fashion-mlp", "", {{"Authorization", "Bearer " + key}}), 401,
               "signature_required", "");
  EXPECT_EQ(route(signed_request(key, "GET", "/v2/models/fashion-mlp", ""), *services_).status,
            200);
}

TEST_F(SignedRequests, SignedUploadsAreCheckedAgainstTheStreamedBody) {
  const std::string bytes = read_file(kModels / "fashion-mlp.onnx");
  const std::string target = "/admin/v1/models/fashion-mlp/versions";
  // Head-only decision, then the body arrives in pieces.
  HttpRequest head = signed_request(admin_key_, "POST", target, bytes);
  head.body.clear();
  StreamDecision good = route_stream(head, *services_);
  ASSERT_TRUE(good.sink);
  for (std::size_t at = 0; at < bytes.size(); at += 4096) {
    good.sink->write(
        std::span<const char>(bytes.data() + at, std::min<std::size_t>(4096, bytes.size() - at)));
  }
  EXPECT_EQ(good.sink->finish(true).status, 201);
  // A different body than the one signed: refused before anything is stored.
  HttpRequest other = signed_request(admin_key_, "POST", target, bytes);
  other.body.clear();
  StreamDecision bad = route_stream(other, *services_);
  ASSERT_TRUE(bad.sink);
  bad.sink->write(std::span<const char>(bytes.data(), bytes.size() - 1));
  expect_error(bad.sink->finish(true), 401, "bad_signature", "");
  bad.sink.reset();  // what the server does after finish()
  EXPECT_EQ(registry_->list_versions("fashion-mlp").size(), 2u);
  EXPECT_TRUE(std::filesystem::is_empty(dir_ / "artifacts" / "tmp"));
}

}  // namespace
}  // namespace mg::gateway
