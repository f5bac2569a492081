#include "plugins/cpu/layout.h"

#include <algorithm>
#include <set>
#include <string>

namespace mg::cpu {
namespace {

// Element-wise operators whose kernels take either order and write their output in the
// order of their inputs (the executor flags it; binary ones permute their broadcast).
bool is_unary(const std::string& op) {
  static const std::set<std::string> ops{
      "Relu", "Sigmoid",  "Tanh", "Clip", "HardSwish", "HardSigmoid", "LeakyRelu", "Elu",
      "Selu", "Softplus", "Neg",  "Abs",  "Exp",       "Sqrt",        "Erf",       "Reciprocal"};
  return ops.count(op) != 0;
}

bool is_binary(const std::string& op) {
  return op == "Add" || op == "Sub" || op == "Mul" || op == "Div";
}

// 2-D pools without dilation (their kernel's channel-last path).
bool is_plain_2d_pool(const Node& node) {
  if (node.op_type != "MaxPool" && node.op_type != "AveragePool") return false;
  if (node.outputs.size() > 1 && node.outputs[1] >= 0) return false;  // MaxPool's Indices
  const std::vector<int64_t> dilations = node.attr_ints("dilations");
  return node.attr_ints("kernel_shape").size() == 2 &&
         std::all_of(dilations.begin(), dilations.end(), [](int64_t d) { return d == 1; });
}

// Operators whose kernels take either order and write their output in the order of their
// inputs: element-wise ones (binary ones permute their broadcast), 2-D pools,
// BatchNormalization (per channel) and Concat. The executor flags their outputs.
bool follows_inputs(const Node& node) {
  if (!node.domain.empty()) return false;
  const std::string& op = node.op_type;
  return is_unary(op) || is_binary(op) || is_plain_2d_pool(node) || op == "BatchNormalization" ||
         op == "Concat";
}

// Each value's rank where the graph tells it (-1: unknown): its inferred shape, else from
// what makes it — shape inference gives up after a Reshape to a computed shape (a
// ShuffleNet's channel shuffle), but a 2-D Conv still makes a 4-D output.
std::vector<int64_t> known_ranks(const Graph& graph) {
  std::vector<int64_t> rank(graph.values.size(), -1);
  for (std::size_t v = 0; v < graph.values.size(); ++v) {
    const Value& value = graph.values[v];
    if (value.shape_known) rank[v] = static_cast<int64_t>(value.shape.size());
  }
  auto of = [&](int id) { return id < 0 ? int64_t{-1} : rank[static_cast<std::size_t>(id)]; };
  for (const Node& node : graph.nodes) {  // in topological order
    if (node.outputs.empty() || node.outputs[0] < 0 || node.inputs.empty()) continue;
    int64_t& out = rank[static_cast<std::size_t>(node.outputs[0])];
    if (out >= 0 || !node.domain.empty()) continue;
    if (node.op_type == "Conv" && node.inputs.size() > 1) {
      out = of(node.inputs[1]);  // X has W's rank
    } else if (is_binary(node.op_type)) {
      if (node.inputs.size() == 2 && of(node.inputs[0]) >= 0 && of(node.inputs[1]) >= 0)
        out = std::max(of(node.inputs[0]), of(node.inputs[1]));
    } else if (follows_inputs(node)) {
      out = of(node.inputs[0]);  // the rest keep their (first) input's rank
    }
  }
  return rank;
}

}  // namespace

bool reads_channels_last(const Node& node, std::size_t input) {
  if (!node.domain.empty()) return false;
  const std::string& op = node.op_type;
  if (op == "Conv" || op == "GlobalAveragePool" || op == "GlobalMaxPool") return input == 0;
  if (is_binary(op) || op == "Concat") return true;
  // Clip's bounds, BatchNormalization's parameters: scalars and vectors, either order.
  return follows_inputs(node) && input == 0;
}

bool same_in_both_orders(const Shape& shape) {
  if (shape.size() > 4) return false;
  Shape s(4 - shape.size(), 1);
  s.insert(s.end(), shape.begin(), shape.end());
  return s[1] == 1 || (s[2] == 1 && s[3] == 1);
}

int choose_layouts(Graph& graph) {
  const std::size_t n = graph.values.size();
  const std::vector<int64_t> rank = known_ranks(graph);
  std::vector<bool> candidate(n, false);
  // A value is a candidate when a Conv or an operator that follows its inputs' order
  // makes it, it is 4-D float, and every kernel that reads it takes either order.
  for (const Node& node : graph.nodes) {
    if (node.outputs.empty() || node.outputs[0] < 0) continue;
    if (node.op_type != "Conv" && !follows_inputs(node)) continue;
    const int out = node.outputs[0];
    const Value& v = graph.values[static_cast<std::size_t>(out)];
    // A value laid out alike in both orders ([N, C, 1, 1]) is left channel-first: a flag
    // on it would mean nothing but could still pull its readers into the other order.
    if (v.type != ElemType::kFloat || rank[static_cast<std::size_t>(out)] != 4 ||
        (v.shape_known && same_in_both_orders(v.shape)) || is_graph_output(graph, out)) {
      continue;
    }
    bool all_read_it = true;
    for (int reader : consumers_of(graph, out)) {
      const Node& r = graph.nodes[static_cast<std::size_t>(reader)];
      for (std::size_t i = 0; i < r.inputs.size(); ++i) {
        if (r.inputs[i] == out && !reads_channels_last(r, i)) all_read_it = false;
      }
    }
    candidate[static_cast<std::size_t>(out)] = all_read_it;
  }
  // An operator that follows its inputs computes in one order: its output and each input
  // whose layout differs between the orders must agree. Drop candidates until they do.
  const auto varies = [&](int id) {
    const Value& v = graph.values[static_cast<std::size_t>(id)];
    return !v.shape_known || !same_in_both_orders(v.shape);
  };
  for (bool changed = true; changed;) {
    changed = false;
    for (const Node& node : graph.nodes) {
      if (!follows_inputs(node) || node.outputs.empty() || node.outputs[0] < 0) continue;
      const auto out = static_cast<std::size_t>(node.outputs[0]);
      bool inputs_agree = true;
      for (std::size_t i = 0; i < node.inputs.size(); ++i) {
        const int in = node.inputs[i];
        if (in < 0 || !reads_channels_last(node, i) || !varies(in)) continue;
        inputs_agree &= candidate[static_cast<std::size_t>(in)];
      }
      if (candidate[out] && !inputs_agree) {
        candidate[out] = false;
        changed = true;
      }
      if (candidate[out]) continue;
      for (std::size_t i = 0; i < node.inputs.size(); ++i) {
        const int in = node.inputs[i];
        if (in < 0 || !reads_channels_last(node, i) || !varies(in)) continue;
        if (candidate[static_cast<std::size_t>(in)] && varies(node.outputs[0])) {
          candidate[static_cast<std::size_t>(in)] = false;
          changed = true;
        }
      }
    }
  }
  int chosen = 0;
  for (std::size_t v = 0; v < n; ++v) {
    graph.values[v].channels_last = candidate[v];
    chosen += candidate[v] ? 1 : 0;
  }
  return chosen;
}

}  // namespace mg::cpu
