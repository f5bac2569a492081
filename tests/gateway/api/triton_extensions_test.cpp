// Triton's HTTP extensions through the router, against a real registry and the real CPU
// backend with the seed models: the model configuration, the statistics counted from real
// requests, and the model repository (index, load, unload) with its admin scope.
#include "tests/gateway/api/router_fixture.h"

namespace mg::gateway {
namespace {

TEST_F(RouterTest, ServerMetadataListsTheExtensionsServed) {
  const auto extensions = body_of(call("GET", "/v2"))["extensions"].as_array();
  for (const char* name :
       {"binary_tensor_data", "model_configuration", "statistics", "model_repository"}) {
    EXPECT_NE(std::find(extensions.begin(), extensions.end(), json::value(name)), extensions.end())
        << name;
  }
}

TEST_F(RouterTest, ModelConfigurationInTritonsFieldNames) {
  for (const char* target :
       {"/v2/models/fashion-mlp/config", "/v2/models/fashion-mlp/versions/1/config",
        "/v2/models/fashion-mlp/versions/default/config"}) {
    HttpResponse r = call("GET", target);
    ASSERT_EQ(r.status, 200) << target << r.body;
    auto config = body_of(r);
    EXPECT_EQ(config["name"].as_string(), "fashion-mlp");
    EXPECT_EQ(config["version"].as_string(), "1");
    EXPECT_EQ(config["backend"].as_string(), "cpu");
    EXPECT_EQ(config["max_batch_size"].as_int64(), 8);
    // Dims without the batch dimension, as Triton's config has them.
    EXPECT_EQ(json::serialize(config["input"]),
              R"([{"name":"image","data_type":"TYPE_FP32","dims":[28,28]}])");
    EXPECT_EQ(json::serialize(config["output"]),
              R"([{"name":"probabilities","data_type":"TYPE_FP32","dims":[10]}])");
    auto group = config["instance_group"].as_array()[0].as_object();
    EXPECT_EQ(group["kind"].as_string(), "KIND_CPU");
    EXPECT_GE(group["count"].as_int64(), 1);
    EXPECT_EQ(config["dynamic_batching"].as_object()["max_queue_delay_microseconds"].as_int64(), 0);
    EXPECT_EQ(config["modelgate_config"].as_object()["max_batch_size"].as_int64(), 8);
  }
  expect_error(call("GET", "/v2/models/nope/config"), 404, "model_not_found", "nope");
  expect_error(call("GET", "/v2/models/fashion-mlp/versions/9/config"), 404, "version_not_found",
               "'9'");
}

TEST_F(RouterTest, StatisticsCountRequestsTheirPhasesAndBatches) {
  auto stats_of = [&](const std::string& target) {
    HttpResponse r = call("GET", target);
    EXPECT_EQ(r.status, 200) << target << r.body;
    return body_of(r)["model_stats"].as_array();
  };
  auto fresh = stats_of("/v2/models/fashion-mlp/stats");
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_EQ(fresh[0].as_object()["inference_count"].to_number<uint64_t>(), 0u);
  EXPECT_EQ(fresh[0].as_object()["last_inference"].to_number<uint64_t>(), 0u);

  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(call("POST", "/v2/models/fashion-mlp/infer", mlp_request()).status, 200);
  }
  const std::string wrong_shape =
      R"({"inputs":[{"name":"image","datatype":"FP32","shape":[1,3],"data":[1,2,3]}]})";
  ASSERT_EQ(call("POST", "/v2/models/fashion-mlp/infer", wrong_shape).status, 400);

  for (const char* target :
       {"/v2/models/fashion-mlp/stats", "/v2/models/fashion-mlp/versions/1/stats"}) {
    auto list = stats_of(target);
    ASSERT_EQ(list.size(), 1u) << target;
    auto s = list[0].as_object();
    EXPECT_EQ(s["name"].as_string(), "fashion-mlp");
    EXPECT_EQ(s["version"].as_string(), "1");
    EXPECT_GT(s["last_inference"].to_number<uint64_t>(), 0u);
    EXPECT_EQ(s["inference_count"].to_number<uint64_t>(), 3u);
    EXPECT_EQ(s["execution_count"].to_number<uint64_t>(), 3u);  // one at a time: a batch each
    auto inference = s["inference_stats"].as_object();
    EXPECT_EQ(inference["success"].as_object()["count"].to_number<uint64_t>(), 3u);
    EXPECT_EQ(inference["fail"].as_object()["count"].to_number<uint64_t>(), 1u);
    for (const char* phase : {"success", "fail", "compute_input", "compute_infer"}) {
      EXPECT_GT(inference[phase].as_object()["ns"].to_number<uint64_t>(), 0u) << phase;
    }
    for (const char* phase : {"queue", "compute_input", "compute_infer", "compute_output"}) {
      EXPECT_EQ(inference[phase].as_object()["count"].to_number<uint64_t>(), 3u) << phase;
    }
    // The phases are parts of the whole request.
    EXPECT_LE(inference["compute_infer"].as_object()["ns"].to_number<uint64_t>(),
              inference["success"].as_object()["ns"].to_number<uint64_t>());
  }
  // Every loaded model the key may use, the unused one at zero.
  auto all = stats_of("/v2/models/stats");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].as_object()["name"].as_string(), "fashion-mlp");
  EXPECT_EQ(all[1].as_object()["name"].as_string(), "text-classifier");
  EXPECT_EQ(all[1].as_object()["inference_count"].to_number<uint64_t>(), 0u);

  // A key limited to one model sees only that one, and is refused the other's.
  registry_->create_tenant("solo", 0, registry::QuotaPeriod::kMonth, "test");
  KeySpec spec{"solo", registry::kScopeInfer, "text-*"};
  const std::string solo = "Bearer " + auth_->issue_key(spec, "test").key;
  HttpResponse mine = call("GET", "/v2/models/stats", "", {{"Authorization", solo}});
  ASSERT_EQ(mine.status, 200);
  auto visible = body_of(mine)["model_stats"].as_array();
  ASSERT_EQ(visible.size(), 1u);
  EXPECT_EQ(visible[0].as_object()["name"].as_string(), "text-classifier");
  EXPECT_EQ(call("GET", "/v2/models/fashion-mlp/stats", "", {{"Authorization", solo}}).status, 403);
  expect_error(call("GET", "/v2/models/nope/stats"), 404, "model_not_found", "nope");
}

TEST_F(RouterTest, RepositoryIndexLoadAndUnloadNeedTheAdminScope) {
  for (const char* target : {"/v2/repository/index", "/v2/repository/models/fashion-mlp/unload",
                             "/v2/repository/models/fashion-mlp/load"}) {
    EXPECT_EQ(call("POST", target).status, 403) << target;
  }
  // Refused like an admin request: audited.
  int refusals = 0;
  for (const auto& e : registry_->audit_log()) {
    if (e.action == "admin.refused" && e.target.find("/v2/repository/") != std::string::npos)
      ++refusals;
  }
  EXPECT_EQ(refusals, 3);
  auto index = [&](const std::string& body = "") {
    HttpResponse r = admin("POST", "/v2/repository/index", body);
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body).as_array();
  };
  auto before = index();
  ASSERT_EQ(before.size(), 2u);
  EXPECT_EQ(json::serialize(before[0]), R"({"name":"fashion-mlp","version":"1","state":"READY"})");

  HttpResponse unloaded = admin("POST", "/v2/repository/models/fashion-mlp/unload");
  ASSERT_EQ(unloaded.status, 200) << unloaded.body;
  EXPECT_EQ(json::serialize(body_of(unloaded)["unloaded"]), R"(["1"])");
  auto after = index();
  EXPECT_EQ(after[0].as_object()["state"].as_string(), "UNAVAILABLE");
  EXPECT_FALSE(after[0].as_object()["reason"].as_string().empty());
  EXPECT_EQ(index(R"({"ready": true})").size(), 1u);  // text-classifier only
  EXPECT_EQ(call("POST", "/v2/models/fashion-mlp/infer", mlp_request()).status, 503);

  HttpResponse loaded = admin("POST", "/v2/repository/models/fashion-mlp/load");
  ASSERT_EQ(loaded.status, 200) << loaded.body;
  EXPECT_EQ(json::serialize(body_of(loaded)["loaded"]), R"(["1"])");
  EXPECT_EQ(index()[0].as_object()["state"].as_string(), "READY");
  EXPECT_EQ(call("POST", "/v2/models/fashion-mlp/infer", mlp_request()).status, 200);

  expect_error(admin("POST", "/v2/repository/models/nope/load"), 404, "model_not_found", "nope");
  expect_error(admin("POST", "/v2/repository/index", R"({"ready": 1})"), 400, "bad_request",
               "ready");
}

}  // namespace
}  // namespace mg::gateway
