// Tenants batched together stay apart: through the router, the dynamic batcher and the
// real CPU backend, on a model whose sequence length (dimension 1) is dynamic
// (tests/data/dynamic-length.onnx: each row's answer is (sum of its ids, its length)).
#include <future>
#include <thread>

#include "tests/gateway/api/router_fixture.h"

namespace mg::gateway {
namespace {

const std::filesystem::path kTestModel =
    std::filesystem::path(MG_TEST_DATA_DIR) / "dynamic-length.onnx";

class BatchIsolation : public RouterTest {
 protected:
  BatchIsolation() {
    registry_->create_tenant("beta", 0, registry::QuotaPeriod::kMonth, "test");
    beta_key_ = auth_->issue_key(KeySpec{"beta", registry::kScopeInfer}, "test").key;
  }

  void add_dynamic_length_model(const std::string& config) {
    add_model_file("dynlen", kTestModel, config, true);
  }

  // One request of one row: `ids`, as tenant `key`.
  std::future<HttpResponse> infer_async(const std::string& key, std::vector<int64_t> ids) {
    json::array data;
    for (int64_t id : ids) data.emplace_back(id);
    json::object request{
        {"inputs", json::array{json::object{{"name", "tokens"},
                                            {"datatype", "INT64"},
                                            {"shape", json::array{1, std::ssize(ids)}},
                                            {"data", data}}}}};
    std::string body = json::serialize(request);
    return std::async(std::launch::async, [this, key, body] {
      return call("POST", "/v2/models/dynlen/infer", body, {{"Authorization", "Bearer " + key}});
    });
  }

  // The (sum, length) a request's one row came back with.
  static std::pair<double, double> totals_of(const HttpResponse& r) {
    auto data = body_of(r)["outputs"].as_array()[0].as_object()["data"].as_array();
    return {data[0].to_number<double>(), data[1].to_number<double>()};
  }

  const LoadedVersion& dynlen() { return *models_->find("dynlen", 1); }

  std::string beta_key_;
};

std::vector<int64_t> ids_from(int64_t first, int64_t count) {
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < count; ++i) ids.push_back(first + i);
  return ids;
}

// Requests [1,5], [1,10] and [1,0] from two tenants carry 15 ids in all, which fits a
// [3,5] batch byte for byte: merged, one tenant would get an answer computed on the
// other's ids. Each must get exactly its own row back.
TEST_F(BatchIsolation, RequestsOfDifferentLengthsNeverShareABatch) {
  // The batch runs once it holds 3 requests or after 1.5 s: before the fix, all three
  // arrived within that time and formed one batch.
  add_dynamic_length_model(
      R"({"max_batch_size": 8, "preferred_batch_sizes": [3], "max_queue_delay_us": 1500000, "instances": 1})");
  auto a = infer_async(key_, ids_from(1, 5));         // acme: sum 15, length 5
  auto b = infer_async(beta_key_, ids_from(20, 10));  // beta: sum 245, length 10
  auto c = infer_async(key_, {});                     // acme: sum 0, length 0
  HttpResponse ra = a.get(), rb = b.get(), rc = c.get();
  ASSERT_EQ(ra.status, 200) << ra.body;
  ASSERT_EQ(rb.status, 200) << rb.body;
  ASSERT_EQ(rc.status, 200) << rc.body;
  EXPECT_EQ(totals_of(ra), std::make_pair(15.0, 5.0));
  EXPECT_EQ(totals_of(rb), std::make_pair(245.0, 10.0));
  EXPECT_EQ(totals_of(rc), std::make_pair(0.0, 0.0));
  EXPECT_EQ(dynlen().batcher().batches_run(), 3u);
}

TEST_F(BatchIsolation, RequestsOfTheSameLengthStillShareABatch) {
  add_dynamic_length_model(
      R"({"max_batch_size": 8, "preferred_batch_sizes": [4], "max_queue_delay_us": 10000000, "instances": 1})");
  std::vector<std::future<HttpResponse>> calls;
  for (int64_t r = 0; r < 4; ++r)
    calls.push_back(infer_async(r % 2 ? beta_key_ : key_, ids_from(r * 10, 3)));
  for (int64_t r = 0; r < 4; ++r) {
    HttpResponse response = calls[r].get();
    ASSERT_EQ(response.status, 200) << response.body;
    EXPECT_EQ(totals_of(response), std::make_pair(static_cast<double>(r * 30 + 3), 3.0));
  }
  EXPECT_EQ(dynlen().batcher().batches_run(), 1u);
}

// A tenant's out-of-range token id fails the CPU backend's whole batch (Gather): only that
// request may fail, with its own message; the others sharing its batch get their answers
// and never see the attacker's message.
TEST_F(BatchIsolation, OneRequestsBadInputFailsOnlyThatRequest) {
  add_dynamic_length_model(
      R"({"max_batch_size": 8, "preferred_batch_sizes": [4], "max_queue_delay_us": 10000000, "instances": 1})");
  std::vector<std::future<HttpResponse>> calls;
  calls.push_back(infer_async(key_, {1, 2, 3}));
  calls.push_back(infer_async(beta_key_, {4, 5, 4242}));  // the table has 100 rows
  calls.push_back(infer_async(key_, {7, 8, 9}));
  calls.push_back(infer_async(key_, {10, 11, 12}));
  std::vector<HttpResponse> responses;
  for (auto& c : calls) responses.push_back(c.get());
  expect_error(responses[1], 400, "bad_request", "4242");
  const std::vector<double> sums = {6, 0, 24, 33};
  for (std::size_t r : {0u, 2u, 3u}) {
    ASSERT_EQ(responses[r].status, 200) << r << ": " << responses[r].body;
    EXPECT_EQ(totals_of(responses[r]), std::make_pair(sums[r], 3.0));
  }
  // One batch of 4, then its halves, then the culprit's half's halves: 5 executes.
  EXPECT_EQ(dynlen().batcher().batches_run(), 5u);
}

}  // namespace
}  // namespace mg::gateway
