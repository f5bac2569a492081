#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "plugins/cpu/tensor.h"

namespace mg::cpu {

struct KernelContext;
using KernelFn = void (*)(KernelContext&);

// What a kernel keeps between runs of its node (Conv: oneDNN primitives and weights in
// their layout). Made once after the graph is final and shared by every instance of the
// model, so it synchronises itself.
struct KernelState {
  virtual ~KernelState() = default;
  // True when the state keeps everything its node needs of constant input `input` in a
  // form of its own (a Conv's packed weights): prepare_kernels then drops the constant's
  // data, keeping its type and shape, so the model does not hold it twice.
  virtual bool holds_constant_input(std::size_t /*input*/) const { return false; }
};

// A node attribute, parsed once at load.
struct Attribute {
  enum class Kind { kInt, kFloat, kString, kInts, kFloats, kStrings, kTensor };
  std::string name;
  Kind kind = Kind::kInt;
  int64_t i = 0;
  float f = 0;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<float> floats;
  std::vector<std::string> strings;
  Tensor t;
};

struct Node {
  std::string name;  // the ONNX node name, or "<op_type>#<index>" when it has none
  std::string op_type;
  std::string domain;
  int opset = 0;             // version of the node's domain the model imports
  std::vector<int> inputs;   // value ids; -1 for an omitted optional input
  std::vector<int> outputs;  // value ids; -1 for an omitted optional output
  std::vector<Attribute> attributes;
  KernelFn kernel = nullptr;
  std::shared_ptr<KernelState> state;  // null unless the op prepares one (prepare_kernels)

  const Attribute* attr(const std::string& key) const;
  int64_t attr_int(const std::string& key, int64_t fallback) const;
  float attr_float(const std::string& key, float fallback) const;
  std::string attr_string(const std::string& key, const std::string& fallback) const;
  std::vector<int64_t> attr_ints(const std::string& key) const;  // empty when absent
  std::string where() const { return op_type + " node '" + name + "'"; }
};

// A value: a graph input, an initializer, or a node output. Shapes use -1 for an unknown
// dimension; `shape_known` is false when even the rank is unknown.
struct Value {
  std::string name;
  ElemType type = ElemType::kUndefined;
  Shape shape;
  bool shape_known = false;
  std::optional<Tensor> constant;  // initializers and folded constants
  // Held in channel-last order (N, H, W, C) between the kernels that make and read it,
  // as chosen at load (choose_layouts, layout.h); its shape stays ONNX's (N, C, H, W).
  bool channels_last = false;
};

// The model as the executor runs it: nodes in topological order over numbered values.
struct Graph {
  std::vector<Value> values;
  std::vector<int> inputs;  // graph inputs that are not initializers
  std::vector<int> outputs;
  std::vector<Node> nodes;

  int find_value(const std::string& name) const;  // -1 when absent
};

// Indices of the nodes that read `value` (each once, however many of its inputs it is).
std::vector<int> consumers_of(const Graph& graph, int value);
// The node that makes `value`; null for graph inputs and initializers.
const Node* producer_of(const Graph& graph, int value);
bool is_graph_output(const Graph& graph, int value);

}  // namespace mg::cpu
