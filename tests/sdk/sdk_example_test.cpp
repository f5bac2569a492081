// Loads the out-of-tree example backend (built by build_example.sh against the installed
// SDK) through the plugin host and runs batches through it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

#include "gateway/plugin_host/backend_error.h"
#include "gateway/plugin_host/backend_manager.h"

namespace mg::gateway {
namespace {

std::filesystem::path g_plugin_dir;

TEST(SdkExample, LoadsThroughTheHostAndScalesABatch) {
  BackendManager manager;
  manager.discover({g_plugin_dir});
  auto backend = manager.find("scale");
  ASSERT_NE(backend, nullptr) << (manager.statuses().empty() ? "no plugin found"
                                                             : manager.statuses()[0].reason);
  EXPECT_EQ(backend->version(), "1.0.0");

  const std::string artifact = "any bytes";
  auto model =
      Model::load(backend, "scaler", std::as_bytes(std::span(artifact.data(), artifact.size())), "",
                  R"({"factor": 2.5})");
  EXPECT_TRUE(model->metadata().execute_reentrant);
  auto instance = model->create_instance(0);

  // Two requests, 1 and 2 rows of 3 values; the second holds a NaN and fails alone.
  std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, std::numeric_limits<float>::quiet_NaN(), 9};
  BatchInput batch;
  batch.inputs.push_back(TensorRef{"x", DType::kFp32, {3, 3}, x.data(), x.size() * 4});
  batch.request_rows = {1, 2};
  BatchOutput out = instance->execute(batch);
  ASSERT_EQ(out.request_failures.size(), 2u);
  EXPECT_FALSE(out.request_failures[0]);
  ASSERT_TRUE(out.request_failures[1]);
  EXPECT_EQ(out.request_failures[1]->message, "input 'x' of request 1 holds NaN");
  ASSERT_EQ(out.outputs.size(), 1u);
  const auto* y = reinterpret_cast<const float*>(out.outputs[0].data.get());
  for (int i = 0; i < 3; ++i) EXPECT_FLOAT_EQ(y[i], 2.5f * x[i]);
}

TEST(SdkExample, BadConfigFailsTheModelLoadWithAMessage) {
  auto backend = Backend::open(g_plugin_dir / "libmg_scale.so", "{}");
  const std::string artifact = "x";
  auto bytes = std::as_bytes(std::span(artifact.data(), artifact.size()));
  try {
    Model::load(backend, "scaler", bytes, "", R"({"scale": 2})");
    FAIL() << "load succeeded without a factor";
  } catch (const BackendError& e) {
    EXPECT_NE(std::string(e.what()).find("needs a finite number \"factor\""), std::string::npos);
  }
}

}  // namespace
}  // namespace mg::gateway

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc != 2) {
    std::fprintf(stderr, "usage: sdk_example_test PLUGIN_DIR\n");
    return 2;
  }
  mg::gateway::g_plugin_dir = argv[1];
  return RUN_ALL_TESTS();
}
