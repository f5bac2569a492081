// The three seed models through the plugin host and the real libmg_cpu.so: outputs match
// torch's within 1e-4, and accuracy on the full held-out sets meets the targets
// (Fashion-MNIST test set: MLP >= 0.85, CNN >= 0.88; text held-out set > 0.9).
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstring>

#include "tests/plugins/cpu/cpu_test_support.h"
#include "tests/test_data_files.h"

namespace mg::cpu {
namespace {

using gateway::BatchInput;
using gateway::BatchOutput;
using gateway::DType;

const std::string kModels = MG_EXAMPLES_DIR "/models/";

template <typename T>
std::vector<T> read_array(const std::string& path) {
  std::string bytes = testing::read_file(path);
  std::vector<T> values(bytes.size() / sizeof(T));
  std::memcpy(values.data(), bytes.data(), values.size() * sizeof(T));
  return values;
}

using mg::test::read_gzip;

struct FashionTest {
  std::vector<float> images;  // [10000, 28, 28] scaled to [0, 1]
  std::vector<uint8_t> labels;
};

const FashionTest& fashion_test_set() {
  static const FashionTest set = [] {
    const std::string dir = mg::test::kFashionMnistDir;
    std::string images = read_gzip(dir + "t10k-images-idx3-ubyte.gz");
    std::string labels = read_gzip(dir + "t10k-labels-idx1-ubyte.gz");
    FashionTest t;
    for (std::size_t i = 16; i < images.size(); ++i) {
      t.images.push_back(static_cast<uint8_t>(images[i]) / 255.0f);
    }
    t.labels.assign(labels.begin() + 8, labels.end());
    return t;
  }();
  return set;
}

// The model config: batching up to max_batch, plus `more` ("key": value, …) if given.
std::string config(int max_batch, const std::string& more = "") {
  return R"({"max_batch_size": )" + std::to_string(max_batch) + (more.empty() ? "" : ", ") + more +
         "}";
}

BatchOutput run(gateway::Instance& instance, const std::string& input, DType dtype,
                std::vector<int64_t> shape, const void* data, uint64_t bytes) {
  BatchInput batch;
  batch.inputs.push_back({input, dtype, std::move(shape), data, bytes});
  batch.request_rows = {static_cast<uint64_t>(batch.inputs[0].shape[0])};
  BatchOutput out = instance.execute(batch);
  if (out.request_failures[0]) throw std::runtime_error(out.request_failures[0]->message);
  return out;
}

// A seed model's name, and more model config for it (Winograd for the CNN's convolutions).
struct SeedCase {
  std::string name, more_config;
};

class SeedModel : public ::testing::TestWithParam<SeedCase> {};

TEST_P(SeedModel, MatchesTorchReferenceWithin1e4) {
  const std::string name = GetParam().name;
  auto ref = boost::json::parse(testing::read_file(kModels + name + ".ref.json")).as_object();
  auto model = testing::load_model(testing::read_file(kModels + name + ".onnx"),
                                   config(64, GetParam().more_config));
  const auto& metadata = model->metadata();
  ASSERT_EQ(metadata.inputs.size(), 1u);
  EXPECT_EQ(metadata.inputs[0].name, ref["input"].as_string().c_str());
  EXPECT_EQ(metadata.inputs[0].shape[0], -1);
  EXPECT_EQ(metadata.max_batch_size, 64);
  std::vector<int64_t> shape;
  for (const auto& d : ref["input_shape"].as_array()) shape.push_back(d.as_int64());
  std::string input = testing::read_file(kModels + name + ".input.bin");
  std::vector<float> expected = read_array<float>(kModels + name + ".output.bin");
  DType dtype = ref["input_dtype"].as_string() == "INT64" ? DType::kInt64 : DType::kFp32;
  auto instance = model->create_instance(0);
  BatchOutput out =
      run(*instance, metadata.inputs[0].name, dtype, shape, input.data(), input.size());
  ASSERT_EQ(out.outputs.size(), 1u);
  const auto* actual = reinterpret_cast<const float*>(out.outputs[0].data.get());
  ASSERT_EQ(out.outputs[0].byte_size, expected.size() * sizeof(float));
  double worst = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    worst = std::max(worst, static_cast<double>(std::fabs(actual[i] - expected[i])));
  }
  EXPECT_LE(worst, 1e-4) << name;
  std::printf("%s %s: max |cpu - torch| = %.3g over %zu values\n", name.c_str(),
              GetParam().more_config.c_str(), worst, expected.size());
}

INSTANTIATE_TEST_SUITE_P(All, SeedModel,
                         ::testing::Values(SeedCase{"fashion-mlp", ""}, SeedCase{"fashion-cnn", ""},
                                           SeedCase{"fashion-cnn", R"("conv_winograd": true)"},
                                           SeedCase{"text-classifier", ""}),
                         [](const auto& info) {
                           std::string id = info.param.name +
                                            (info.param.more_config.empty() ? "" : "_winograd");
                           std::replace(id.begin(), id.end(), '-', '_');
                           return id;
                         });

// The backend's own keys in a model config are checked; a bad value fails the load and
// names the key.
TEST(SeedModelConfig, BadValuesFailTheLoadByName) {
  const std::string bytes = testing::read_file(kModels + "fashion-mlp.onnx");
  for (const auto& [json, key] : std::vector<std::pair<std::string, std::string>>{
           {R"({"threads": 0})", "threads"},
           {R"({"max_batch_size": -1})", "max_batch_size"},
           {R"({"conv_winograd": 1})", "conv_winograd"},
           {R"({"conv_winograd": "yes"})", "conv_winograd"},
           {"[1]", "JSON object"},
           {"{oops", "JSON object"}}) {
    try {
      testing::load_model(bytes, json);
      ADD_FAILURE() << json << " was accepted";
    } catch (const gateway::BackendError& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << json << ": " << e.what();
    }
  }
  EXPECT_NO_THROW(testing::load_model(bytes, R"({"conv_winograd": false, "threads": 2})"));
}

double fashion_accuracy(const std::string& name, std::vector<int64_t> image_shape,
                        const std::string& more_config = "") {
  const FashionTest& test = fashion_test_set();
  auto model =
      testing::load_model(testing::read_file(kModels + name + ".onnx"), config(100, more_config));
  auto instance = model->create_instance(0);
  constexpr int64_t kBatch = 100;
  const int64_t pixels = 28 * 28, count = static_cast<int64_t>(test.labels.size());
  int64_t correct = 0;
  for (int64_t start = 0; start < count; start += kBatch) {
    std::vector<int64_t> shape{kBatch};
    shape.insert(shape.end(), image_shape.begin(), image_shape.end());
    BatchOutput out = run(*instance, "image", DType::kFp32, shape, &test.images[start * pixels],
                          kBatch * pixels * sizeof(float));
    const auto* p = reinterpret_cast<const float*>(out.outputs[0].data.get());
    for (int64_t i = 0; i < kBatch; ++i) {
      correct +=
          std::max_element(p + i * 10, p + i * 10 + 10) - (p + i * 10) == test.labels[start + i];
    }
  }
  double accuracy = static_cast<double>(correct) / static_cast<double>(count);
  std::printf("%s: accuracy %.4f on the %lld Fashion-MNIST test images\n", name.c_str(), accuracy,
              static_cast<long long>(count));
  return accuracy;
}

TEST(SeedModelAccuracy, MlpOnFashionMnistTestSet) {
  EXPECT_GE(fashion_accuracy("fashion-mlp", {28, 28}), 0.85);
}

TEST(SeedModelAccuracy, CnnOnFashionMnistTestSet) {
  EXPECT_GE(fashion_accuracy("fashion-cnn", {1, 28, 28}), 0.88);
}

TEST(SeedModelAccuracy, CnnWithWinogradOnFashionMnistTestSet) {
  EXPECT_GE(fashion_accuracy("fashion-cnn", {1, 28, 28}, R"("conv_winograd": true)"), 0.88);
}

TEST(SeedModelAccuracy, TextClassifierOnHeldOutSet) {
  std::vector<int64_t> tokens = read_array<int64_t>(kModels + "text-heldout.tokens.bin");
  std::string labels = testing::read_file(kModels + "text-heldout.labels.bin");
  const int64_t count = static_cast<int64_t>(labels.size());
  ASSERT_EQ(tokens.size(), labels.size() * 32);
  auto model =
      testing::load_model(testing::read_file(kModels + "text-classifier.onnx"), config(256));
  auto instance = model->create_instance(0);
  int64_t correct = 0;
  for (int64_t start = 0; start < count; start += 256) {
    const int64_t n = std::min<int64_t>(256, count - start);
    BatchOutput out = run(*instance, "tokens", DType::kInt64, {n, 32}, &tokens[start * 32],
                          static_cast<uint64_t>(n * 32 * 8));
    const auto* p = reinterpret_cast<const float*>(out.outputs[0].data.get());
    for (int64_t i = 0; i < n; ++i) correct += (p[i] > 0.5f) == (labels[start + i] != 0);
  }
  double accuracy = static_cast<double>(correct) / static_cast<double>(count);
  std::printf("text-classifier: accuracy %.4f on %lld held-out descriptions\n", accuracy,
              static_cast<long long>(count));
  EXPECT_GT(accuracy, 0.9);
}

}  // namespace
}  // namespace mg::cpu
