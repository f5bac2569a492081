// When the CPU backend runs a model's 3×3 convolutions with Winograd though its config does
// not say: a batched model whose transformed weights fit kWinogradDefaultBudgetBytes.
// An explicit "conv_winograd" always holds; an unbatched model never runs a slice Winograd
// would take, so it stays off there.
#include "plugins/cpu/winograd_default.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <filesystem>

#include "plugins/cpu/cpu_error.h"
#include "plugins/cpu/cpu_model.h"
#include "tests/plugins/cpu/cpu_test_support.h"
#include "tests/plugins/cpu/graph_builder.h"

namespace mg::cpu {
namespace {

using testing::GraphBuilder;
using testing::int_attribute;
using testing::ints_attribute;

TEST(WinogradDefault, CountsOnlyTheConvolutionsWinogradTakes) {
  GraphBuilder b;
  const int x = b.value("x", {-1, 4, 8, 8});
  auto conv = [&](Shape weights, std::vector<Attribute> attributes) {
    const int w = b.value("w" + std::to_string(b.graph.nodes.size()), weights, true);
    b.node("Conv", {x, w}, b.value("y" + std::to_string(b.graph.nodes.size()), {}),
           std::move(attributes));
  };
  conv({8, 4, 3, 3}, {});                                     // taken: 8·4·9 floats
  conv({8, 4, 3, 3}, {ints_attribute("strides", {2, 2})});    // strided
  conv({8, 4, 3, 3}, {ints_attribute("dilations", {2, 2})});  // dilated
  conv({8, 2, 3, 3}, {int_attribute("group", 2)});            // grouped
  conv({8, 4, 1, 1}, {});                                     // 1×1
  conv({8, 4, 5, 5}, {});                                     // 5×5
  conv({8, 4, 3, 3}, {ints_attribute("strides", {1, 1})});    // taken, strides spelt out
  EXPECT_EQ(winograd_extra_bytes(b.graph), 2 * 4 * (8 * 4 * 9) * int64_t{sizeof(float)});
}

TEST(WinogradDefault, TheSeedCnnTakesItWhenBatchedUnlessItsConfigSaysNot) {
  const std::string bytes = testing::read_file(MG_EXAMPLES_DIR "/models/fashion-cnn.onnx");
  auto winograd = [&](const std::string& config) {
    return CpuModel::load(testing::bytes_of(bytes), "", config)->config().kernels.conv_winograd;
  };
  EXPECT_TRUE(winograd("{}"));  // batched by default; its two 3×3 convolutions fit
  EXPECT_TRUE(winograd(R"({"max_batch_size": 8})"));
  EXPECT_FALSE(winograd(R"({"max_batch_size": 0})"));
  EXPECT_FALSE(winograd(R"({"conv_winograd": false})"));
  EXPECT_TRUE(winograd(R"({"max_batch_size": 0, "conv_winograd": true})"));
}

// The server's [backends.cpu] winograd_by_default = false reaches the plugin as its backend
// config: models without the key then stay direct; a model's own true still holds.
TEST(WinogradDefault, TheBackendConfigCanTurnTheDefaultOff) {
  const std::string bytes = testing::read_file(MG_EXAMPLES_DIR "/models/fashion-cnn.onnx");
  const BackendSettings off = parse_backend_config(R"({"winograd_by_default": false})");
  auto winograd = [&](const std::string& config) {
    return CpuModel::load(testing::bytes_of(bytes), "", config, off)
        ->config()
        .kernels.conv_winograd;
  };
  EXPECT_FALSE(winograd("{}"));
  EXPECT_TRUE(winograd(R"({"conv_winograd": true})"));
  EXPECT_TRUE(parse_backend_config(R"({"batch_by_default": false})").winograd_by_default);
  EXPECT_THROW(parse_backend_config(R"({"winograd_by_default": "no"})"), CpuError);
  const auto plugin = std::filesystem::path(MG_PLUGIN_DIR) / "libmg_cpu.so";
  EXPECT_NO_THROW(gateway::Backend::open(plugin, R"({"winograd_by_default": false})"));
  EXPECT_THROW(gateway::Backend::open(plugin, R"({"winograd_by_default": 0})"),
               gateway::BackendError);
}

// x [N, C, 8, 8] → one 3×3 Conv with C→C constant (zero) weights.
std::string conv_model(int64_t channels) {
  onnx::ModelProto model;
  model.set_ir_version(8);
  model.add_opset_import()->set_version(17);
  auto* graph = model.mutable_graph();
  graph->set_name("g");
  auto declare = [](onnx::ValueInfoProto* v, const char* name, int64_t channels) {
    v->set_name(name);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(onnx::TensorProto::FLOAT);
    t->mutable_shape()->add_dim()->set_dim_param("N");
    for (int64_t d : {channels, int64_t{8}, int64_t{8}})
      t->mutable_shape()->add_dim()->set_dim_value(d);
  };
  declare(graph->add_input(), "x", channels);
  declare(graph->add_output(), "y", channels);
  auto* w = graph->add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : {channels, channels, int64_t{3}, int64_t{3}}) w->add_dims(d);
  w->set_raw_data(
      std::string(static_cast<std::size_t>(channels * channels * 9) * sizeof(float), '\0'));
  auto* node = graph->add_node();
  node->set_op_type("Conv");
  node->add_input("x");
  node->add_input("w");
  node->add_output("y");
  auto* pads = node->add_attribute();
  pads->set_name("pads");
  pads->set_type(onnx::AttributeProto::INTS);
  for (int i = 0; i < 4; ++i) pads->add_ints(1);
  return model.SerializeAsString();
}

TEST(WinogradDefault, AModelWhoseTransformedWeightsExceedTheBudgetStaysDirect) {
  auto winograd = [](int64_t channels, const std::string& config) {
    const std::string bytes = conv_model(channels);
    auto model = CpuModel::load(testing::bytes_of(bytes), "", config);
    EXPECT_EQ(model->metadata().max_batch_size, kDefaultMaxBatch);
    return model->config().kernels.conv_winograd;
  };
  // 256² · 9 floats: 9 MiB transformed; 384² · 9: 20.25 MiB.
  EXPECT_TRUE(winograd(256, "{}"));
  EXPECT_FALSE(winograd(384, "{}"));
  EXPECT_TRUE(winograd(384, R"({"conv_winograd": true})"));
}

}  // namespace
}  // namespace mg::cpu
