// Running batches through a real plugin: results, per-request and batch errors, the
// output contract enforced by the host, and concurrency rules.
#include <gtest/gtest.h>

#include <cstring>
#include <thread>

#include "gateway/plugin_host/backend_error.h"
#include "tests/gateway/plugin_host/test_support.h"

namespace mg::gateway {
namespace {

using testing::floats_of;
using testing::load_test_model;
using testing::test_plugin;
using testing::TestBatch;

class BackendExecute : public ::testing::Test {
 protected:
  std::shared_ptr<Backend> backend_ = Backend::open(test_plugin("test_good"), "{}");
};

TEST_F(BackendExecute, MetadataIsCopied) {
  auto model = load_test_model(backend_);
  const ModelMetadata& m = model->metadata();
  ASSERT_EQ(m.inputs.size(), 1u);
  EXPECT_EQ(m.inputs[0].name, "x");
  EXPECT_EQ(m.inputs[0].dtype, DType::kFp32);
  EXPECT_EQ(m.inputs[0].shape, (std::vector<int64_t>{-1, 4}));
  ASSERT_EQ(m.outputs.size(), 2u);
  EXPECT_EQ(m.outputs[1].name, "sum");
  EXPECT_EQ(m.max_batch_size, 8);
  EXPECT_FALSE(m.execute_reentrant);
  EXPECT_EQ(backend_->loaded_models(), 1);
}

TEST_F(BackendExecute, BatchProducesEveryOutputInHostBuffers) {
  auto instance = load_test_model(backend_)->create_instance(0);
  TestBatch batch({2, 1});
  BatchOutput out = instance->execute(batch.input);
  ASSERT_EQ(out.request_failures.size(), 2u);
  EXPECT_FALSE(out.request_failures[0]);
  EXPECT_FALSE(out.request_failures[1]);
  ASSERT_EQ(out.outputs.size(), 2u);
  EXPECT_EQ(out.outputs[0].name, "y");
  EXPECT_EQ(out.outputs[0].shape, (std::vector<int64_t>{3, 4}));
  std::vector<float> y = floats_of(out.outputs[0]);
  for (std::size_t i = 0; i < y.size(); ++i) EXPECT_FLOAT_EQ(y[i], 2 * batch.values[i]);
  std::vector<float> sums = floats_of(out.outputs[1]);
  EXPECT_EQ(sums, (std::vector<float>{1 + 2 + 3 + 4, 5 + 6 + 7 + 8, 9 + 10 + 11 + 12}));
}

// A binary tensor decoded from a request body is a view wherever it falls after the JSON
// header; the host realigns it before the backend sees it (the test backend refuses
// misaligned inputs), whatever the offset.
TEST_F(BackendExecute, MisalignedInputsReachTheBackendAligned) {
  auto instance = load_test_model(backend_)->create_instance(0);
  TestBatch batch({2});
  const std::size_t bytes = batch.values.size() * sizeof(float);
  std::vector<std::byte> body(bytes + 16);
  for (std::size_t offset = 0; offset < 16; ++offset) {
    std::memcpy(body.data() + offset, batch.values.data(), bytes);
    batch.input.inputs[0].data = body.data() + offset;
    BatchOutput out = instance->execute(batch.input);
    ASSERT_FALSE(out.batch_failure) << offset << ": " << out.batch_failure->message;
    ASSERT_EQ(out.outputs.size(), 2u);
    std::vector<float> y = floats_of(out.outputs[0]);
    for (std::size_t i = 0; i < y.size(); ++i) EXPECT_FLOAT_EQ(y[i], 2 * batch.values[i]);
  }
}

TEST_F(BackendExecute, OnlyRequestedOutputsAreProduced) {
  auto instance = load_test_model(backend_)->create_instance(0);
  TestBatch batch({1});
  batch.input.outputs = {"sum"};
  BatchOutput out = instance->execute(batch.input);
  ASSERT_EQ(out.outputs.size(), 1u);
  EXPECT_EQ(out.outputs[0].name, "sum");
}

TEST_F(BackendExecute, PerRequestErrorFailsOnlyThatRequest) {
  auto instance = load_test_model(backend_)->create_instance(0);
  TestBatch batch({1, 2, 1}, {1});
  BatchOutput out = instance->execute(batch.input);
  ASSERT_EQ(out.request_failures.size(), 3u);
  EXPECT_FALSE(out.request_failures[0]);
  ASSERT_TRUE(out.request_failures[1]);
  EXPECT_EQ(out.request_failures[1]->code, MG_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(out.request_failures[1]->message, "request 1 has a negative first value");
  EXPECT_FALSE(out.request_failures[2]);
  EXPECT_EQ(out.outputs.size(), 2u);  // the other requests keep their outputs
}

TEST_F(BackendExecute, BatchErrorReachesEveryRequest) {
  auto instance = load_test_model(backend_, R"({"mode": "fail_execute"})")->create_instance(0);
  TestBatch batch({1, 1});
  BatchOutput out = instance->execute(batch.input);
  ASSERT_EQ(out.request_failures.size(), 2u);
  for (const auto& failure : out.request_failures) {
    ASSERT_TRUE(failure);
    EXPECT_EQ(failure->code, MG_ERROR_INTERNAL);
    EXPECT_EQ(failure->message, "execute failed on purpose");
  }
  EXPECT_TRUE(out.outputs.empty());
}

// A plugin that leaves an output unwritten returns zeros, never old heap contents: here
// a normal batch's outputs are freed first, so their memory is what malloc hands out next
// (and ASan fills fresh allocations with 0xbe).
TEST_F(BackendExecute, UnwrittenOutputsAreZeros) {
  auto normal = load_test_model(backend_)->create_instance(0);
  auto lazy = load_test_model(backend_, R"({"mode": "leave_unwritten"})")->create_instance(0);
  for (int round = 0; round < 4; ++round) {
    TestBatch batch({2, 2});
    { BatchOutput freed = normal->execute(batch.input); }
    BatchOutput out = lazy->execute(batch.input);
    ASSERT_EQ(out.outputs.size(), 2u);
    for (const auto& output : out.outputs) {
      for (float v : floats_of(output)) EXPECT_EQ(v, 0.0f) << output.name << " round " << round;
    }
  }
}

TEST_F(BackendExecute, WholeBatchErrorIsMarkedAsSuch) {
  auto instance = load_test_model(backend_, R"({"mode": "fail_execute"})")->create_instance(0);
  TestBatch batch({1, 1});
  ASSERT_TRUE(instance->execute(batch.input).batch_failure);
  auto good = load_test_model(backend_)->create_instance(0);
  TestBatch per_request({1, 1}, {1});
  EXPECT_FALSE(good->execute(per_request.input).batch_failure);  // failed request by request
}

TEST_F(BackendExecute, ExceptionInsidePluginComesBackAsAnError) {
  auto instance = load_test_model(backend_, R"({"mode": "throw"})")->create_instance(0);
  TestBatch batch({1});
  BatchOutput out = instance->execute(batch.input);
  ASSERT_TRUE(out.request_failures[0]);
  EXPECT_NE(out.request_failures[0]->message.find("kernel exploded"), std::string::npos);
}

// A plugin that breaks the output contract fails the batch with the host's reason.
void expect_contract_failure(const std::shared_ptr<Backend>& backend, const std::string& mode,
                             const std::string& fragment) {
  auto instance =
      testing::load_test_model(backend, R"({"mode": ")" + mode + R"("})")->create_instance(0);
  TestBatch batch({1});
  BatchOutput out = instance->execute(batch.input);
  ASSERT_TRUE(out.request_failures[0]) << mode;
  EXPECT_NE(out.request_failures[0]->message.find(fragment), std::string::npos)
      << mode << ": " << out.request_failures[0]->message;
  EXPECT_TRUE(out.outputs.empty()) << mode;
}

TEST_F(BackendExecute, HostEnforcesTheOutputContract) {
  expect_contract_failure(backend_, "bad_output_dtype", "expected dtype FP32, got INT32");
  expect_contract_failure(backend_, "skip_output", "did not produce output 'sum'");
  expect_contract_failure(backend_, "double_alloc", "allocated twice");
  expect_contract_failure(backend_, "huge_output", "exceeds the limit");
}

TEST_F(BackendExecute, MalformedBatchNeverReachesThePlugin) {
  auto instance = load_test_model(backend_)->create_instance(0);
  TestBatch batch({1, 1});
  batch.input.request_rows = {1, 2};  // rows disagree with the tensor's dimension 0
  EXPECT_THROW(instance->execute(batch.input), BackendError);
  TestBatch too_big({9});  // over max_batch_size 8
  EXPECT_THROW(instance->execute(too_big.input), BackendError);
  TestBatch unknown_output({1});
  unknown_output.input.outputs = {"nope"};
  EXPECT_THROW(instance->execute(unknown_output.input), BackendError);
}

TEST_F(BackendExecute, ModelLoadFailureCarriesThePluginsMessage) {
  try {
    load_test_model(backend_, R"({"fail_load": "weights are missing"})");
    FAIL() << "load succeeded";
  } catch (const BackendError& e) {
    EXPECT_EQ(e.code(), MG_ERROR_INVALID_ARGUMENT);
    EXPECT_STREQ(e.what(), "model 'm' on backend 'test_good': load failed: weights are missing");
  }
  EXPECT_THROW(Model::load(backend_, "m", testing::bytes_of("garbage"), "", "{}"), BackendError);
  EXPECT_EQ(backend_->loaded_models(), 0);
}

TEST_F(BackendExecute, BadMetadataIsRefusedAndTheModelUnloaded) {
  try {
    load_test_model(backend_, R"({"mode": "bad_metadata"})");
    FAIL() << "load succeeded";
  } catch (const BackendError& e) {
    EXPECT_NE(std::string(e.what()).find("must declare dimension 0 as -1"), std::string::npos);
  }
  EXPECT_EQ(backend_->loaded_models(), 0);
}

TEST_F(BackendExecute, DifferentInstancesExecuteConcurrently) {
  // In "barrier" mode each execute waits until two run at once: it only succeeds if the
  // host lets the two instances overlap.
  auto model = load_test_model(backend_, R"({"mode": "barrier"})");
  auto first = model->create_instance(0);
  auto second = model->create_instance(1);
  BatchOutput out_first, out_second;
  std::thread a([&] {
    TestBatch batch({1});
    out_first = first->execute(batch.input);
  });
  std::thread b([&] {
    TestBatch batch({1});
    out_second = second->execute(batch.input);
  });
  a.join();
  b.join();
  EXPECT_FALSE(out_first.request_failures[0]) << out_first.request_failures[0]->message;
  EXPECT_FALSE(out_second.request_failures[0]) << out_second.request_failures[0]->message;
}

TEST_F(BackendExecute, NonReentrantInstanceIsNeverEnteredTwice) {
  auto instance = load_test_model(backend_, R"({"mode": "overlap_check"})")->create_instance(0);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        TestBatch batch({1});
        if (instance->execute(batch.input).request_failures[0]) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace mg::gateway
