// The admin API through the router: models, uploads, versions, aliases, load/unload/retire,
// backends, tenants, keys and the audit log, with a real registry and the real CPU backend.
#include "gateway/auth/api_key.h"
#include "registry/sha256.h"
#include "tests/gateway/api/router_fixture.h"

namespace mg::gateway {
namespace {

using AdminApiTest = RouterTest;

std::string mlp_bytes() { return read_file(kModels / "fashion-mlp.onnx"); }

TEST_F(AdminApiTest, CreateListAndShowModels) {
  HttpResponse created = admin("POST", "/admin/v1/models",
                               R"({"name":"mlp2","description":"second",
                                   "config":{"max_batch_size":4,"instances":2}})");
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(body_of(created)["backend"].as_string(), "cpu");
  EXPECT_EQ(body_of(created)["config"].as_object().at("instances").as_int64(), 2);
  expect_error(admin("POST", "/admin/v1/models", R"({"name":"mlp2"})"), 409, "conflict",
               "already exists");
  expect_error(admin("POST", "/admin/v1/models", R"({"name":"../etc"})"), 400, "bad_request",
               "invalid");
  expect_error(admin("POST", "/admin/v1/models", R"({"name":"x","config":[1]})"), 400,
               "bad_request", "config");
  expect_error(admin("POST", "/admin/v1/models", "{oops"), 400, "bad_request", "malformed JSON");
  auto list = body_of(admin("GET", "/admin/v1/models"))["models"].as_array();
  ASSERT_EQ(list.size(), 3u);
  auto shown = body_of(admin("GET", "/admin/v1/models/fashion-mlp"));
  EXPECT_EQ(shown["aliases"].as_object().at("default").as_int64(), 1);
  ASSERT_EQ(shown["versions"].as_array().size(), 1u);
  auto v1 = shown["versions"].as_array()[0].as_object();
  EXPECT_EQ(v1.at("state").as_string(), "ready");
  EXPECT_EQ(v1.at("loaded").as_bool(), true);
  expect_error(admin("GET", "/admin/v1/models/nope"), 404, "model_not_found", "nope");
}

TEST_F(AdminApiTest, UploadRegistersAVersionAndPromoteServesIt) {
  const std::string bytes = mlp_bytes();
  HttpResponse up = admin(
      "POST", "/admin/v1/models/fashion-mlp/versions?notes=retrained%20v2&promote=true", bytes);
  ASSERT_EQ(up.status, 201) << up.body;
  auto v2 = body_of(up);
  EXPECT_EQ(v2["version"].as_int64(), 2);
  EXPECT_EQ(v2["notes"].as_string(), "retrained v2");
  EXPECT_EQ(v2["size"].as_int64(), static_cast<int64_t>(bytes.size()));
  EXPECT_EQ(v2["state"].as_string(), "ready");
  EXPECT_EQ(registry_->resolve("fashion-mlp", "default"), 2);
  EXPECT_EQ(models_->find("fashion-mlp", 1), nullptr);  // the switch unloaded version 1
  HttpResponse r = call("POST", "/v2/models/fashion-mlp/infer", mlp_request());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body_of(r)["model_version"].as_string(), "2");
  // Without promote: registered, not loaded, alias unchanged.
  auto v3 = body_of(admin("POST", "/admin/v1/models/fashion-mlp/versions", bytes));
  EXPECT_EQ(v3["version"].as_int64(), 3);
  EXPECT_EQ(v3["state"].as_string(), "registered");
  EXPECT_EQ(registry_->resolve("fashion-mlp", "default"), 2);
}

TEST_F(AdminApiTest, BadUploadsAreRefusedAndChangeNothingServed) {
  const std::string bytes = mlp_bytes();
  expect_error(admin("POST", "/admin/v1/models/nope/versions", bytes), 404, "model_not_found",
               "nope");
  expect_error(admin("POST", "/admin/v1/models/fashion-mlp/versions", ""), 400, "bad_request",
               "empty");
  expect_error(
      admin("POST", "/admin/v1/models/fashion-mlp/versions?sha256=" + std::string(64, '0'), bytes),
      400, "bad_request", "");
  expect_error(admin("POST", "/admin/v1/models/fashion-mlp/versions?sha256=xyz", bytes), 400,
               "bad_request", "sha256");
  expect_error(admin("POST", "/admin/v1/models/fashion-mlp/versions?promote=maybe", bytes), 400,
               "bad_request", "promote");
  // A broken model registers, fails to load, and the default alias stays where it was.
  HttpResponse broken = admin("POST", "/admin/v1/models/fashion-mlp/versions?promote=true",
                              bytes.substr(0, bytes.size() / 2));
  expect_error(broken, 400, "bad_request", "failed to load");
  EXPECT_EQ(registry_->resolve("fashion-mlp", "default"), 1);
  EXPECT_EQ(registry_->list_versions("fashion-mlp").back().state, registry::VersionState::kFailed);
  EXPECT_EQ(call("POST", "/v2/models/fashion-mlp/infer", mlp_request()).status, 200);
  // The right digest is accepted.
  registry::Sha256 hasher;
  hasher.update(std::as_bytes(std::span(bytes.data(), bytes.size())));
  const std::string digest = hasher.hex_digest();
  EXPECT_EQ(admin("POST", "/admin/v1/models/fashion-mlp/versions?sha256=" + digest, bytes).status,
            201);
}

TEST_F(AdminApiTest, AliasesLoadUnloadAndRetire) {
  ASSERT_EQ(admin("POST", "/admin/v1/models/fashion-mlp/versions", mlp_bytes()).status, 201);
  HttpResponse canary =
      admin("PUT", "/admin/v1/models/fashion-mlp/aliases/canary", R"({"version":2})");
  ASSERT_EQ(canary.status, 200) << canary.body;
  EXPECT_NE(models_->find("fashion-mlp", 2), nullptr);  // loaded by the switch
  EXPECT_EQ(call("POST", "/v2/models/fashion-mlp/versions/canary/infer", mlp_request()).status,
            200);
  auto aliases = body_of(admin("GET", "/admin/v1/models/fashion-mlp/aliases"))["aliases"];
  EXPECT_EQ(aliases.as_object().at("canary").as_int64(), 2);
  expect_error(admin("PUT", "/admin/v1/models/fashion-mlp/aliases/canary", R"({"version":9})"), 404,
               "version_not_found", "9");
  expect_error(admin("PUT", "/admin/v1/models/fashion-mlp/aliases/7", R"({"version":2})"), 400,
               "bad_request", "alias");
  expect_error(admin("PUT", "/admin/v1/models/fashion-mlp/aliases/canary", R"({"v":2})"), 400,
               "bad_request", "version");
  expect_error(admin("POST", "/admin/v1/models/fashion-mlp/versions/2/retire"), 409, "conflict",
               "canary");
  expect_error(admin("DELETE", "/admin/v1/models/fashion-mlp/aliases/default"), 409, "conflict",
               "default");
  EXPECT_EQ(admin("DELETE", "/admin/v1/models/fashion-mlp/aliases/canary").status, 200);
  EXPECT_EQ(models_->find("fashion-mlp", 2), nullptr);  // nothing holds it any more
  auto loaded = body_of(admin("POST", "/admin/v1/models/fashion-mlp/versions/2/load"));
  EXPECT_EQ(loaded["state"].as_string(), "ready");
  auto unloaded = body_of(admin("POST", "/admin/v1/models/fashion-mlp/versions/2/unload"));
  EXPECT_EQ(unloaded["state"].as_string(), "registered");
  auto retired = body_of(admin("POST", "/admin/v1/models/fashion-mlp/versions/2/retire"));
  EXPECT_EQ(retired["state"].as_string(), "retired");
  expect_error(admin("POST", "/admin/v1/models/fashion-mlp/versions/2/load"), 409, "conflict", "");
  expect_error(admin("POST", "/admin/v1/models/fashion-mlp/versions/x/load"), 400, "bad_request",
               "version number");
  expect_error(admin("POST", "/admin/v1/models/fashion-mlp/versions/1/explode"), 404, "not_found",
               "explode");
}

TEST_F(AdminApiTest, BackendsTenantsKeysAndTheAuditLog) {
  auto backends = body_of(admin("GET", "/admin/v1/backends"))["backends"].as_array();
  ASSERT_FALSE(backends.empty());
  EXPECT_EQ(backends[0].as_object().at("name").as_string(), "cpu");
  EXPECT_EQ(backends[0].as_object().at("state").as_string(), "ready");

  ASSERT_EQ(
      admin("POST", "/admin/v1/tenants", R"({"name":"globex","quota":1000,"period":"day"})").status,
      201);
  expect_error(admin("POST", "/admin/v1/tenants", R"({"name":"globex"})"), 409, "conflict", "");
  expect_error(admin("POST", "/admin/v1/tenants", R"({"name":"x","period":"week"})"), 400,
               "bad_request", "period");
  auto tenants = body_of(admin("GET", "/admin/v1/tenants"))["tenants"].as_array();
  EXPECT_EQ(tenants.size(), 3u);

  HttpResponse created = admin("POST", "/admin/v1/keys",
                               R"({"tenant":"globex","scopes":"infer","rate":50,"burst":100,
                                   "models":"fashion-*"})");
  ASSERT_EQ(created.status, 201) << created.body;
  auto key = body_of(created);
  const std::string full(key["key"].as_string());
  ASSERT_TRUE(parse_api_key(full));
  EXPECT_EQ(key["id"].as_string(), parse_api_key(full)->id);
  EXPECT_EQ(key["rate"].as_double(), 50.0);
  expect_error(admin("POST", "/admin/v1/keys", R"({"tenant":"nobody"})"), 404, "not_found",
               "nobody");
  expect_error(admin("POST", "/admin/v1/keys", R"({"tenant":"globex","scopes":"root"})"), 400,
               "bad_request", "scopes");
  // The new key works at once; listings never show secrets or hashes.
  EXPECT_EQ(call("GET", "/v2/models/fashion-mlp", "", {{"Authorization", "Bearer " + full}}).status,
            200);
  HttpResponse listed = admin("GET", "/admin/v1/keys?tenant=globex");
  EXPECT_EQ(body_of(listed)["keys"].as_array().size(), 1u);
  EXPECT_EQ(listed.body.find(full.substr(16)), std::string::npos);
  EXPECT_EQ(listed.body.find("hash"), std::string::npos);
  expect_error(admin("DELETE", "/admin/v1/keys/zzzzzzzzzzzz"), 404, "not_found", "zzzz");

  // Every change is in the audit log under the admin key's id.
  const std::string admin_id(parse_api_key(admin_key_)->id);
  auto entries = body_of(admin("GET", "/admin/v1/audit"))["entries"].as_array();
  bool tenant_audited = false, key_audited = false;
  for (const auto& e : entries) {
    const auto& o = e.as_object();
    if (o.at("actor").as_string() != admin_id) continue;
    tenant_audited = tenant_audited || o.at("action").as_string() == "tenant.create";
    key_audited = key_audited || o.at("action").as_string() == "key.create";
  }
  EXPECT_TRUE(tenant_audited);
  EXPECT_TRUE(key_audited);
}

TEST_F(AdminApiTest, UploadsStreamThroughASink) {
  const std::string target = "/admin/v1/models/fashion-mlp/versions?promote=1";
  StreamDecision refused = route_stream(HttpRequest{"POST",
                                                    "/admin/v1/models/nope/versions",
                                                    {{"Authorization", "Bearer " + admin_key_}},
                                                    ""},
                                        *services_);
  ASSERT_TRUE(refused.refusal);
  EXPECT_EQ(refused.refusal->status, 404);
  EXPECT_FALSE(
      route_stream(HttpRequest{"POST", "/v2/models/fashion-mlp/infer", {}, ""}, *services_).sink);
  StreamDecision accepted = route_stream(
      HttpRequest{"POST", target, {{"Authorization", "Bearer " + admin_key_}}, ""}, *services_);
  ASSERT_TRUE(accepted.sink);
  const std::string bytes = mlp_bytes();
  for (std::size_t at = 0; at < bytes.size(); at += 1000) {
    ASSERT_TRUE(accepted.sink->write(
        std::span<const char>(bytes.data() + at, std::min<std::size_t>(1000, bytes.size() - at))));
  }
  HttpResponse done = accepted.sink->finish(true);
  ASSERT_EQ(done.status, 201) << done.body;
  EXPECT_EQ(registry_->resolve("fashion-mlp", "default"), 2);
  // A sink dropped mid-upload (the client went away) leaves no version and no temp file.
  StreamDecision abandoned = route_stream(
      HttpRequest{"POST", target, {{"Authorization", "Bearer " + admin_key_}}, ""}, *services_);
  ASSERT_TRUE(abandoned.sink->write(std::span<const char>(bytes.data(), 100)));
  abandoned.sink.reset();
  EXPECT_EQ(registry_->list_versions("fashion-mlp").size(), 2u);
  EXPECT_TRUE(std::filesystem::is_empty(dir_ / "artifacts" / "tmp"));
}

}  // namespace
}  // namespace mg::gateway

namespace mg::gateway {
namespace {

// Numbers past what an int64 holds (1e300 seconds is UB once converted) are refused with
// a 400 naming the bound, and nothing is created.
TEST_F(AdminApiTest, OutOfRangeNumbersAreRefused) {
  for (const char* body :
       {R"({"tenant":"acme","expires_in_seconds":1e300})", R"({"tenant":"acme","rate":1e300})",
        R"({"tenant":"acme","burst":1e19})", R"({"tenant":"acme","expires_in_seconds":-1})"}) {
    SCOPED_TRACE(body);
    expect_error(admin("POST", "/admin/v1/keys", body), 400, "bad_request", "must be a number");
  }
  expect_error(admin("POST", "/admin/v1/tenants", R"({"name":"big","quota":1e300})"), 400,
               "bad_request", "'quota' must be a number from 0 to");
  EXPECT_FALSE(registry_->find_tenant("big"));
  EXPECT_EQ(
      admin("POST", "/admin/v1/keys", R"({"tenant":"acme","expires_in_seconds":3600})").status,
      201);
}

}  // namespace
}  // namespace mg::gateway

namespace mg::gateway {
namespace {

// Refused admin attempts are audited with the key id they named (never a secret), at most
// 60 a minute; what the budget left out is counted in the next minute's first entry.
TEST_F(AdminApiTest, RefusedAdminAttemptsAreAuditedWithinABudget) {
  const std::string infer_id(parse_api_key(key_)->id);
  expect_error(call("POST", "/admin/v1/tenants", R"({"name":"evil"})"), 403, "forbidden", "");
  expect_error(call("GET", "/admin/v1/keys", "", {{"Authorization", "Bearer " + wrong_key()}}), 401,
               "invalid_key", "");
  expect_error(route(HttpRequest{"GET", "/admin/v1/models", {}, ""}, *services_), 401,
               "missing_credentials", "");
  auto refused = [&] {
    std::vector<registry::AuditEntry> entries;
    for (auto& e : registry_->audit_log()) {
      if (e.action == "admin.refused") entries.push_back(e);
    }
    return entries;
  };
  auto entries = refused();
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].actor, infer_id);
  EXPECT_EQ(entries[0].target, "POST /admin/v1/tenants");
  EXPECT_NE(entries[0].details_json.find("\"code\":\"forbidden\""), std::string::npos);
  EXPECT_EQ(entries[1].actor, std::string(parse_api_key(wrong_key())->id));
  EXPECT_EQ(entries[2].actor, "anonymous");
  EXPECT_NE(entries[1].details_json.find("invalid_key"), std::string::npos);
  for (const auto& e : entries) {
    EXPECT_EQ(e.details_json.find(std::string(parse_api_key(key_)->secret)), std::string::npos);
  }
  // A flood: 100 more in the same minute, only the budget's worth audited.
  for (int i = 0; i < 100; ++i) call("DELETE", "/admin/v1/keys/" + infer_id);
  EXPECT_EQ(refused().size(), 60u);
  EXPECT_EQ(registry_->snapshot().find_key(infer_id)->revoked_at, 0);  // nothing was revoked
  now_ms_ += 60'000;
  call("DELETE", "/admin/v1/keys/" + infer_id);
  entries = refused();
  ASSERT_EQ(entries.size(), 61u);
  EXPECT_NE(entries.back().details_json.find("\"earlier_refusals_not_audited\":43"),
            std::string::npos)
      << entries.back().details_json;
}

}  // namespace
}  // namespace mg::gateway
