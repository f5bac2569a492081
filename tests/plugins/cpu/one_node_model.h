// One-node ONNX models built in memory, loaded by the real loader, for kernel tests.
#pragma once

#include <onnx/onnx_pb.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "plugins/cpu/graph.h"
#include "plugins/cpu/onnx_loader.h"
#include "tests/plugins/cpu/cpu_test_support.h"

namespace mg::cpu::testing {

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

// One node, every input a graph input; `attributes` are INT attributes, `strings` STRING
// ones.
inline std::shared_ptr<const Graph> one_node(
    const std::string& op, const std::vector<Input>& inputs, const std::vector<Output>& outputs,
    const std::vector<std::pair<std::string, int64_t>>& attributes = {},
    const std::vector<std::pair<std::string, std::string>>& strings = {}) {
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
  for (const auto& [name, value] : strings) {
    auto* a = node->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(value);
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

inline Tensor floats(Shape shape) {
  Tensor t = Tensor::owned(ElemType::kFloat, shape);
  for (int64_t i = 0; i < t.size(); ++i) t.data<float>()[i] = static_cast<float>(i);
  return t;
}

inline Tensor ints(Shape shape, std::vector<int64_t> values) {
  Tensor t = Tensor::owned(ElemType::kInt64, shape);
  for (int64_t i = 0; i < t.size(); ++i) t.data<int64_t>()[i] = values[static_cast<std::size_t>(i)];
  return t;
}

}  // namespace mg::cpu::testing
