// Weighted aliases (a canary) and shadows through the router, the real registry and the
// real CPU backend: a 90/10 split per request measured over 2,000 requests, a sticky split
// that never moves a key, the canary promoted to 100 % and rolled back with one call each,
// the answering version in every response and in the metered usage, bad splits refused;
// a shadow candidate's answers compared (agreement 1.0 for an identical candidate, below
// for a damaged one) while callers' answers stay the served version's, and a failing
// candidate's errors never reaching them.
#include <chrono>
#include <cstdlib>
#include <map>
#include <set>
#include <thread>

#include "gateway/api/canary_guard.h"
#include "tests/gateway/api/router_fixture.h"
#include "tests/test_data_files.h"

namespace mg::gateway {
namespace {

class CanaryTest : public RouterTest {
 protected:
  CanaryTest() {
    // Version 2 of the MLP: the same file, so both answer alike and only the version differs.
    const std::string bytes = read_file(kModels / "fashion-mlp.onnx");
    EXPECT_EQ(admin("POST", "/admin/v1/models/fashion-mlp/versions", bytes).status, 201);
  }
  // The version that answered one inference request sent with `key`.
  int64_t answered(const std::string& key) {
    HttpResponse r = call("POST", "/v2/models/fashion-mlp/infer", mlp_request(),
                          {{"Authorization", "Bearer " + key}});
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? std::stoll(std::string(body_of(r)["model_version"].as_string())) : 0;
  }
  HttpResponse split(const std::string& body, const std::string& alias = "default") {
    return admin("PUT", "/admin/v1/models/fashion-mlp/aliases/" + alias, body);
  }
};

TEST_F(CanaryTest, ANinetyTenSplitLandsWithinThreePercentAndIsMeteredPerVersion) {
  HttpResponse r = split(R"({"versions":[{"version":1,"weight":90},{"version":2,"weight":10}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body_of(r)["split"].as_object()["versions"].as_array().size(), 2u);
  EXPECT_NE(models_->find("fashion-mlp", 2), nullptr);  // both versions loaded first
  std::map<int64_t, int> count;
  for (int i = 0; i < 2000; ++i) ++count[answered(key_)];
  const double canary = count[2] / 2000.0;
  std::printf("90/10 split over 2000 requests: version 1 %d, version 2 %d (%.2f %%)\n", count[1],
              count[2], 100 * canary);
  EXPECT_EQ(count[1] + count[2], 2000);
  EXPECT_NEAR(canary, 0.10, 0.03);
  // The alias still resolves to its own version for metadata; the model show lists the split.
  json::object shown = body_of(admin("GET", "/admin/v1/models/fashion-mlp"));
  EXPECT_EQ(shown["aliases"].as_object()["default"].as_int64(), 1);
  EXPECT_EQ(shown["splits"].as_object()["default"].as_object()["sticky"].as_bool(), false);
  // Usage is metered per version.
  ASSERT_TRUE(limits_->usage.flush());
  std::map<int64_t, int64_t> metered;
  for (const auto& row : registry_->usage("acme", 0, 0)) metered[row.version] += row.requests;
  EXPECT_EQ(metered[1], count[1]);
  EXPECT_EQ(metered[2], count[2]);
}

TEST_F(CanaryTest, AStickySplitNeverMovesAKey) {
  ASSERT_EQ(split(R"({"versions":[{"version":1,"weight":1},{"version":2,"weight":1}],)"
                  R"("sticky":true})")
                .status,
            200);
  std::set<int64_t> used;
  for (int k = 0; k < 20; ++k) {
    const std::string key = auth_->issue_key(KeySpec{"acme", registry::kScopeInfer}, "test").key;
    const int64_t first = answered(key);
    for (int i = 0; i < 10; ++i) ASSERT_EQ(answered(key), first) << "key " << k << " moved";
    used.insert(first);
  }
  EXPECT_EQ(used, (std::set<int64_t>{1, 2}));  // 20 keys on a 50/50 split reach both
}

TEST_F(CanaryTest, PromotionAndRollbackAreOneCallEach) {
  ASSERT_EQ(split(R"({"versions":[{"version":1,"weight":9},{"version":2,"weight":1}]})").status,
            200);
  // Rollback: the alias back to its own version alone; the canary is unloaded.
  HttpResponse back = admin("POST", "/admin/v1/models/fashion-mlp/aliases/default/rollback");
  ASSERT_EQ(back.status, 200) << back.body;
  EXPECT_EQ(body_of(back)["version"].as_int64(), 1);
  EXPECT_FALSE(body_of(back).contains("split"));
  EXPECT_EQ(models_->find("fashion-mlp", 2), nullptr);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(answered(key_), 1);
  expect_error(admin("POST", "/admin/v1/models/fashion-mlp/aliases/default/rollback"), 409,
               "conflict", "no canary to roll back");
  // Promotion: the canary to 100 %; the stable version is unloaded.
  ASSERT_EQ(split(R"({"versions":[{"version":1,"weight":9},{"version":2,"weight":1}]})").status,
            200);
  ASSERT_EQ(split(R"({"version":2})").status, 200);
  EXPECT_EQ(models_->find("fashion-mlp", 1), nullptr);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(answered(key_), 2);
  std::vector<std::string> actions;
  for (const auto& e : registry_->audit_log()) actions.push_back(e.action);
  EXPECT_EQ(std::count(actions.begin(), actions.end(), "alias.split"), 2);
}

TEST_F(CanaryTest, BadSplitsAreRefusedAndASplitVersionIsNotRetired) {
  expect_error(split(R"({"versions":[{"version":1,"weight":0},{"version":2,"weight":1}]})"), 400,
               "bad_request", "W from 1 to 1000000");
  expect_error(split(R"({"versions":[{"version":1,"weight":1},{"version":1,"weight":1}]})"), 400,
               "bad_request", "named twice");
  expect_error(split(R"({"version":1,"versions":[{"version":2,"weight":1}]})"), 400, "bad_request",
               "not both");
  expect_error(split(R"({"versions":[{"version":1,"weight":1},{"version":9,"weight":1}]})"), 404,
               "version_not_found", "no version 9");
  expect_error(split("{}"), 400, "bad_request", "the body must be");
  ASSERT_EQ(
      split(R"({"versions":[{"version":1,"weight":1},{"version":2,"weight":1}]})", "canary").status,
      200);
  expect_error(admin("POST", "/admin/v1/models/fashion-mlp/versions/2/retire"), 409, "conflict",
               "aliased as 'canary'");
  // Removing the alias unloads the version no other alias reaches.
  ASSERT_EQ(admin("DELETE", "/admin/v1/models/fashion-mlp/aliases/canary").status, 200);
  EXPECT_EQ(models_->find("fashion-mlp", 2), nullptr);
  EXPECT_NE(models_->find("fashion-mlp", 1), nullptr);
}

// The optional automatic rollback: a canary that fails more than the model config's
// max_error_rate of at least min_requests goes back to the stable version; a healthy one
// stays.
TEST_F(CanaryTest, AFailingCanaryIsRolledBackAndAHealthyOneStays) {
  registry_->set_model_section("fashion-mlp", "canary",
                               R"({"max_error_rate":0.2,"min_requests":20})", "test");
  CanaryGuard guard(*services_);
  // Healthy: version 2 is the same model.
  ASSERT_EQ(split(R"({"versions":[{"version":1,"weight":1},{"version":2,"weight":1}]})").status,
            200);
  EXPECT_TRUE(guard.check().empty());  // first sight: the counts start here
  for (int i = 0; i < 60; ++i) answered(key_);
  EXPECT_TRUE(guard.check().empty());
  EXPECT_TRUE(registry_->list_aliases("fashion-mlp")[0].split.has_value());
  // Failing: version 3 is the CNN, which refuses the MLP's requests (400 for them).
  const std::string cnn = read_file(kModels / "fashion-cnn.onnx");
  ASSERT_EQ(admin("POST", "/admin/v1/models/fashion-mlp/versions", cnn).status, 201);
  ASSERT_EQ(split(R"({"versions":[{"version":1,"weight":1},{"version":3,"weight":1}]})").status,
            200);
  EXPECT_TRUE(guard.check().empty());
  // Sent until the canary has failed min_requests times: a fixed count left that to chance
  // (60 requests on a 1:1 split give the canary fewer than 20 in 3 runs of 1,000).
  int failed = 0, sent = 0;
  for (; failed < 20 && sent < 1000; ++sent) {
    failed += call("POST", "/v2/models/fashion-mlp/infer", mlp_request()).status == 200 ? 0 : 1;
  }
  ASSERT_EQ(failed, 20) << "after " << sent << " requests";
  EXPECT_EQ(guard.check(), std::vector<std::string>{"fashion-mlp:default"});
  const auto aliases = registry_->list_aliases("fashion-mlp");
  EXPECT_EQ(aliases[0].version, 1);
  EXPECT_FALSE(aliases[0].split.has_value());
  EXPECT_EQ(models_->find("fashion-mlp", 3), nullptr);
  EXPECT_EQ(registry_->audit_log().back().actor, "canary-guard");
  for (int i = 0; i < 20; ++i) EXPECT_EQ(answered(key_), 1);
}

// The p99 threshold, set through the admin API after the model was created: a canary whose
// successful requests' p99 (over at least min_requests of them) passes max_p99_ms is
// rolled back; under a threshold it meets, it stays.
TEST_F(CanaryTest, ACanaryWhoseP99PassesTheLimitIsRolledBack) {
  CanaryGuard guard(*services_);
  HttpResponse set = admin("PUT", "/admin/v1/models/fashion-mlp/canary",
                           R"({"max_p99_ms":60000,"min_requests":20})");
  ASSERT_EQ(set.status, 200) << set.body;
  EXPECT_EQ(body_of(set)["canary"].as_object()["max_p99_ms"].to_number<double>(), 60000);
  ASSERT_EQ(split(R"({"versions":[{"version":1,"weight":1},{"version":2,"weight":1}]})").status,
            200);
  EXPECT_TRUE(guard.check().empty());  // first sight
  for (int i = 0; i < 80; ++i) answered(key_);
  EXPECT_TRUE(guard.check().empty()) << "a canary well under its p99 limit was rolled back";
  // The same canary under a limit no request meets (1 µs).
  ASSERT_EQ(admin("PUT", "/admin/v1/models/fashion-mlp/canary",
                  R"({"max_p99_ms":0.001,"min_requests":20})")
                .status,
            200);
  for (int i = 0; i < 80; ++i) answered(key_);
  EXPECT_EQ(guard.check(), std::vector<std::string>{"fashion-mlp:default"});
  EXPECT_FALSE(registry_->list_aliases("fashion-mlp")[0].split.has_value());
  EXPECT_EQ(registry_->list_aliases("fashion-mlp")[0].version, 1);
  // Removed: no automatic rollback any more.
  ASSERT_EQ(admin("DELETE", "/admin/v1/models/fashion-mlp/canary").status, 200);
  ASSERT_EQ(split(R"({"versions":[{"version":1,"weight":1},{"version":2,"weight":1}]})").status,
            200);
  EXPECT_TRUE(guard.check().empty());
  for (int i = 0; i < 80; ++i) answered(key_);
  EXPECT_TRUE(guard.check().empty());
}

TEST_F(CanaryTest, MalformedCanaryThresholdsAreRefused) {
  for (const char* body :
       {R"({})", R"({"min_requests":10})", R"({"max_error_rate":1.5})", R"({"max_p99_ms":0})",
        R"({"max_p99_ms":"fast"})", R"({"max_error_rate":0.1,"max_latency":3})",
        R"({"max_error_rate":0.1,"min_requests":1.5})", R"([1])"}) {
    expect_error(admin("PUT", "/admin/v1/models/fashion-mlp/canary", body), 400, "bad_request", "");
  }
  expect_error(admin("PUT", "/admin/v1/models/nope/canary", R"({"max_error_rate":0.1})"), 404,
               "model_not_found", "");
  // Nothing was written.
  EXPECT_EQ(
      body_of(admin("GET", "/admin/v1/models/fashion-mlp"))["config"].as_object().count("canary"),
      0u);
}

// Requests of 8 Fashion-MNIST test images each (binary), as the data plane gets them.
class ShadowTest : public CanaryTest {
 protected:
  ShadowTest() {
    const std::string bytes =
        mg::test::read_gzip(mg::test::kFashionMnistDir + "t10k-images-idx3-ubyte.gz").substr(16);
    for (char b : bytes) pixels_.push_back(static_cast<uint8_t>(b) / 255.0f);
  }
  HttpResponse infer_images(std::size_t first) {
    const std::string data(reinterpret_cast<const char*>(pixels_.data() + first * 784),
                           8 * 784 * 4);
    const std::string header = R"({"inputs":[{"name":"image","datatype":"FP32","shape":[8,28,28],)"
                               R"("parameters":{"binary_data_size":25088}}]})";
    return call("POST", "/v2/models/fashion-mlp/infer", header + data,
                {{"Inference-Header-Content-Length", std::to_string(header.size())}});
  }
  // The shadow's comparison once `requests` copies have come back (they run after the
  // callers are answered).
  json::object comparison_after(uint64_t requests) {
    for (int i = 0; i < 500; ++i) {
      json::object shown = body_of(admin("GET", "/admin/v1/models/fashion-mlp/shadow"));
      if (shown["comparison"].is_object() &&
          shown["comparison"].as_object()["requests"].to_number<uint64_t>() >= requests) {
        return shown["comparison"].as_object();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "the shadow's copies did not all come back: "
                  << admin("GET", "/admin/v1/models/fashion-mlp/shadow").body;
    return {};
  }
  std::string upload_file(const std::string& path) {
    HttpResponse r = admin("POST", "/admin/v1/models/fashion-mlp/versions", read_file(path));
    EXPECT_EQ(r.status, 201) << r.body;
    return r.body;
  }
  std::vector<float> pixels_;
};

TEST_F(ShadowTest, AnIdenticalCandidateAgreesAndCallersAnswersAreTheServedOnes) {
  std::vector<std::string> served;
  for (std::size_t i = 0; i < 50; ++i) served.push_back(infer_images(i * 8).body);
  HttpResponse set =
      admin("PUT", "/admin/v1/models/fashion-mlp/shadow", R"({"version":2,"share":1})");
  ASSERT_EQ(set.status, 200) << set.body;
  for (std::size_t i = 0; i < 50; ++i) {
    HttpResponse r = infer_images(i * 8);
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.body, served[i]) << "a caller's answer changed with the shadow on";
  }
  json::object c = comparison_after(50);
  EXPECT_EQ(c["requests"].to_number<int64_t>(), 50);
  EXPECT_EQ(c["errors"].to_number<int64_t>(), 0);
  EXPECT_EQ(c["rows"].to_number<int64_t>(), 400);
  EXPECT_DOUBLE_EQ(c["agreement"].to_number<double>(), 1.0);
  EXPECT_DOUBLE_EQ(c["max_abs_diff"].to_number<double>(), 0.0);
  // The candidate may not be retired while it shadows; removing the shadow unloads it.
  expect_error(admin("POST", "/admin/v1/models/fashion-mlp/versions/2/retire"), 409, "conflict",
               "shadow");
  ASSERT_EQ(admin("DELETE", "/admin/v1/models/fashion-mlp/shadow").status, 200);
  EXPECT_EQ(models_->find("fashion-mlp", 2), nullptr);
}

// The copy reaches the candidate only once the caller's answer has been sent (the server
// releases HttpResponse::after_sent after writing it): nothing of the shadow's work sits
// between a caller and its answer.
TEST_F(ShadowTest, ACopyRunsOnlyAfterTheCallersAnswerIsSent) {
  ASSERT_EQ(
      admin("PUT", "/admin/v1/models/fashion-mlp/shadow", R"({"version":2,"share":1})").status,
      200);
  std::vector<HttpResponse> unsent;
  for (std::size_t i = 0; i < 5; ++i) {
    unsent.push_back(infer_images(i * 8));
    ASSERT_EQ(unsent.back().status, 200);
    ASSERT_NE(unsent.back().after_sent, nullptr);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(models_->find("fashion-mlp", 2)->shadow_stats()->snapshot().requests, 0u)
      << "a copy ran before its answer was sent";
  unsent.clear();  // sent
  EXPECT_EQ(comparison_after(5)["requests"].to_number<int64_t>(), 5);
  EXPECT_EQ(comparison_after(5)["dropped"].to_number<int64_t>(), 0);
}

// The comparison kept as a report of the candidate: listed with the evaluations (kind
// "shadow"), audited, never taken for an evaluation in model show.
TEST_F(ShadowTest, TheComparisonIsKeptAsAReport) {
  expect_error(admin("POST", "/admin/v1/models/fashion-mlp/shadow/report"), 409, "conflict",
               "no shadow");
  ASSERT_EQ(
      admin("PUT", "/admin/v1/models/fashion-mlp/shadow", R"({"version":2,"share":1})").status,
      200);
  expect_error(admin("POST", "/admin/v1/models/fashion-mlp/shadow/report"), 409, "conflict",
               "no request yet");
  for (std::size_t i = 0; i < 30; ++i) ASSERT_EQ(infer_images(i * 8).status, 200);
  comparison_after(30);
  HttpResponse stored = admin("POST", "/admin/v1/models/fashion-mlp/shadow/report");
  ASSERT_EQ(stored.status, 201) << stored.body;
  json::object report = body_of(stored);
  EXPECT_EQ(report["kind"].as_string(), "shadow");
  EXPECT_EQ(report["version"].as_int64(), 2);
  EXPECT_EQ(report["baseline"].as_object()["version"].as_int64(), 1);
  json::object& figures = report["figures"].as_object();
  EXPECT_EQ(figures["requests"].to_number<int64_t>(), 30);
  EXPECT_EQ(figures["rows"].to_number<int64_t>(), 240);
  EXPECT_DOUBLE_EQ(figures["agreement"].to_number<double>(), 1.0);
  json::object listed = body_of(admin("GET", "/admin/v1/models/fashion-mlp/reports"));
  ASSERT_EQ(listed["reports"].as_array().size(), 1u);
  EXPECT_EQ(listed["reports"].as_array()[0].as_object().at("id"), report["id"]);
  EXPECT_EQ(registry_->audit_log().back().action, "version.shadow_report");
  json::object shown = body_of(admin("GET", "/admin/v1/models/fashion-mlp"));
  for (const auto& v : shown["versions"].as_array()) {
    EXPECT_TRUE(v.as_object().at("evaluation").is_null())
        << "a shadow report shown as an evaluation";
  }
}

TEST_F(ShadowTest, ADamagedCandidateDisagreesAndAFailingOneNeverReachesCallers) {
  const std::string damaged = (dir_ / "damaged.onnx").string();
  ASSERT_EQ(std::system(("/usr/bin/python3 " + std::string(MG_SOURCE_DIR) +
                         "/tests/data/shuffle_weights.py " +
                         (kModels / "fashion-mlp.onnx").string() + " " + damaged)
                            .c_str()),
            0);
  upload_file(damaged);  // version 3
  ASSERT_EQ(
      admin("PUT", "/admin/v1/models/fashion-mlp/shadow", R"({"version":3,"share":1})").status,
      200);
  for (std::size_t i = 0; i < 50; ++i) ASSERT_EQ(infer_images(i * 8).status, 200);
  json::object c = comparison_after(50);
  EXPECT_LT(c["agreement"].to_number<double>(), 0.9);
  EXPECT_GT(c["max_abs_diff"].to_number<double>(), 0.1);
  std::printf("damaged shadow: agreement %.3f over %lld rows, max abs diff %.3f\n",
              c["agreement"].to_number<double>(),
              static_cast<long long>(c["rows"].to_number<int64_t>()),
              c["max_abs_diff"].to_number<double>());
  // A candidate that cannot run these requests (the CNN takes [N,1,28,28]): every copy
  // fails, every caller is answered by the served version.
  upload_file((kModels / "fashion-cnn.onnx").string());  // version 4
  ASSERT_EQ(
      admin("PUT", "/admin/v1/models/fashion-mlp/shadow", R"({"version":4,"share":1})").status,
      200);
  for (std::size_t i = 0; i < 20; ++i) {
    HttpResponse r = infer_images(i * 8);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(body_of(r)["model_version"].as_string(), "1");
  }
  json::object failing = comparison_after(20);
  EXPECT_EQ(failing["errors"].to_number<int64_t>(), 20);
  EXPECT_TRUE(failing["agreement"].is_null());
  // Refusals: no such version or alias, a share out of range.
  expect_error(admin("PUT", "/admin/v1/models/fashion-mlp/shadow", R"({"version":9,"share":1})"),
               404, "version_not_found", "no version 9");
  expect_error(admin("PUT", "/admin/v1/models/fashion-mlp/shadow",
                     R"({"version":2,"share":1,"alias":"nope"})"),
               404, "version_not_found", "no alias 'nope'");
  expect_error(admin("PUT", "/admin/v1/models/fashion-mlp/shadow", R"({"version":2,"share":0})"),
               400, "bad_request", "'share'");
}

}  // namespace
}  // namespace mg::gateway
