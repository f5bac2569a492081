// Index-driven operators (and Resize) fed hostile indices and sizes at run time: each is refused
// with a clear error naming the node (never an out-of-bounds read or write, never a huge
// allocation), and what the spec defines for out-of-range input (OneHot) is computed.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include "plugins/cpu/cpu_error.h"
#include "plugins/cpu/executor.h"
#include "plugins/cpu/onnx_loader.h"
#include "tests/plugins/cpu/cpu_test_support.h"

namespace mg::cpu {
namespace {

constexpr int kFloat = onnx::TensorProto::FLOAT;
constexpr int kInt64 = onnx::TensorProto::INT64;

struct Input {
  std::string name;
  int type;  // onnx::TensorProto element type
  Shape shape;
};

struct Output {
  int type;
  int rank;  // the dimensions are left symbolic
};

// One node, every input a graph input; `attributes` are INT attributes.
std::shared_ptr<const Graph> one_node(
    const std::string& op, const std::vector<Input>& inputs, const std::vector<Output>& outputs,
    const std::vector<std::pair<std::string, int64_t>>& attributes = {}) {
  onnx::ModelProto model;
  model.set_ir_version(8);
  model.add_opset_import()->set_version(17);
  auto* graph = model.mutable_graph();
  graph->set_name("g");
  auto* node = graph->add_node();
  node->set_name("n");
  node->set_op_type(op);
  for (const auto& in : inputs) {
    auto* v = graph->add_input();
    v->set_name(in.name);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(in.type);
    auto* shape = t->mutable_shape();
    for (int64_t d : in.shape) shape->add_dim()->set_dim_value(d);
    node->add_input(in.name);
  }
  for (std::size_t k = 0; k < outputs.size(); ++k) {
    const std::string name = "y" + std::to_string(k);
    node->add_output(name);
    auto* v = graph->add_output();
    v->set_name(name);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(outputs[k].type);
    auto* shape = t->mutable_shape();
    for (int d = 0; d < outputs[k].rank; ++d) {
      shape->add_dim()->set_dim_param("d" + std::to_string(k) + "_" + std::to_string(d));
    }
  }
  for (const auto& [name, value] : attributes) {
    auto* a = node->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(value);
  }
  const std::string bytes = model.SerializeAsString();
  return std::make_shared<Graph>(load_onnx(testing::bytes_of(bytes), ""));
}

Tensor floats(Shape shape) {
  Tensor t = Tensor::owned(ElemType::kFloat, shape);
  for (int64_t i = 0; i < t.size(); ++i) t.data<float>()[i] = static_cast<float>(i);
  return t;
}

Tensor ints(Shape shape, std::vector<int64_t> values) {
  Tensor t = Tensor::owned(ElemType::kInt64, shape);
  for (int64_t i = 0; i < t.size(); ++i) t.data<int64_t>()[i] = values[static_cast<std::size_t>(i)];
  return t;
}

// Runs and expects a CpuError whose message holds `fragment`.
void expect_refused(const std::shared_ptr<const Graph>& graph, std::vector<Tensor> inputs,
                    const std::string& fragment) {
  Executor executor(graph, 1);
  try {
    executor.run(std::move(inputs));
    ADD_FAILURE() << "ran";
  } catch (const CpuError& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("node 'n'"), std::string::npos) << e.what();
  }
}

TEST(IndexOps, IndicesOutsideTheirDimensionAreRefused) {
  expect_refused(one_node("GatherElements", {{"x", kFloat, {2, 3}}, {"i", kInt64, {2, 2}}},
                          {{kFloat, 2}}, {{"axis", 1}}),
                 {floats({2, 3}), ints({2, 2}, {0, 1, 2, 3})}, "index 3 is out of range");
  expect_refused(
      one_node("GatherElements", {{"x", kFloat, {2, 3}}, {"i", kInt64, {2, 2}}}, {{kFloat, 2}}),
      {floats({2, 3}), ints({2, 2}, {0, -3, 1, 0})}, "index -3 is out of range");
  expect_refused(
      one_node("ScatterND", {{"x", kFloat, {4}}, {"i", kInt64, {1, 1}}, {"u", kFloat, {1}}},
               {{kFloat, 1}}),
      {floats({4}), ints({1, 1}, {1 << 30}), floats({1})}, "out of range");
  expect_refused(
      one_node("GatherND", {{"x", kFloat, {2, 2}}, {"i", kInt64, {1, 2}}}, {{kFloat, 1}}),
      {floats({2, 2}), ints({1, 2}, {0, 7})}, "index 7 is out of range");
  expect_refused(
      one_node("ScatterElements", {{"x", kFloat, {3}}, {"i", kInt64, {1}}, {"u", kFloat, {1}}},
               {{kFloat, 1}}),
      {floats({3}), ints({1}, {-4}), floats({1})}, "index -4 is out of range");
}

TEST(IndexOps, SizesFromTensorsAreBoundedBeforeAllocating) {
  expect_refused(
      one_node("TopK", {{"x", kFloat, {5}}, {"k", kInt64, {1}}}, {{kFloat, 1}, {kInt64, 1}}),
      {floats({5}), ints({1}, {6})}, "K is 6 for an axis of 5");
  expect_refused(
      one_node("Range", {{"a", kInt64, {}}, {"b", kInt64, {}}, {"d", kInt64, {}}}, {{kInt64, 1}}),
      {ints({}, {0}), ints({}, {10}), ints({}, {0})}, "delta must not be 0");
  expect_refused(
      one_node("Range", {{"a", kInt64, {}}, {"b", kInt64, {}}, {"d", kInt64, {}}}, {{kInt64, 1}}),
      {ints({}, {0}), ints({}, {int64_t{1} << 62}), ints({}, {1})}, "too long");
  expect_refused(one_node("Tile", {{"x", kFloat, {2}}, {"r", kInt64, {1}}}, {{kFloat, 1}}),
                 {floats({2}), ints({1}, {int64_t{1} << 45})}, "too large");
  expect_refused(one_node("Tile", {{"x", kFloat, {2}}, {"r", kInt64, {1}}}, {{kFloat, 1}}),
                 {floats({2}), ints({1}, {-1})}, "must not be negative");
}

TEST(IndexOps, ResizeBoundsItsOutputAndIntermediatesBeforeAllocating) {
  // [1000, 1] → [1, 2³¹]: the output is 8 GiB, and growing the last axis first would make
  // an 8 TB intermediate.
  const auto graph = one_node("Resize",
                              {{"x", kFloat, {1000, 1}},
                               {"roi", kFloat, {0}},
                               {"scales", kFloat, {0}},
                               {"sizes", kInt64, {2}}},
                              {{kFloat, 2}});
  expect_refused(graph,
                 {floats({1000, 1}), floats({0}), floats({0}), ints({2}, {1, int64_t{1} << 31})},
                 "too large");
  expect_refused(graph, {floats({1000, 1}), floats({0}), floats({0}), ints({2}, {1, -5})},
                 "out of range");
}

TEST(IndexOps, OneHotLeavesOutOfRangeIndicesAllOff) {
  const auto graph =
      one_node("OneHot", {{"i", kInt64, {4}}, {"depth", kInt64, {}}, {"values", kFloat, {2}}},
               {{kFloat, 2}});
  Executor executor(graph, 1);
  Tensor values = Tensor::owned(ElemType::kFloat, {2});
  values.data<float>()[0] = -1;
  values.data<float>()[1] = 5;
  const auto out = executor.run({ints({4}, {0, -1, 3, -9}), ints({}, {3}), values});
  ASSERT_EQ(out[0].shape, (Shape{4, 3}));
  const std::vector<float> expected = {5, -1, -1, -1, -1, 5, -1, -1, -1, -1, -1, -1};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(out[0].data<const float>()[i], expected[i]) << i;
  }
}

}  // namespace
}  // namespace mg::cpu
