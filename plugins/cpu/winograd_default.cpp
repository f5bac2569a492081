#include "plugins/cpu/winograd_default.h"

#include <algorithm>
#include <vector>

namespace mg::cpu {
namespace {

bool all_ones(const std::vector<int64_t>& values) {
  return std::all_of(values.begin(), values.end(), [](int64_t v) { return v == 1; });
}

// Whether a Conv is one the Winograd kernels take (conv_onednn_slice.cpp's winograd_fits,
// there from the prepared plan), judged from its attributes and weight shape.
bool fits_winograd(const Node& node, const Value& weights) {
  const Shape& w = weights.shape;
  return weights.shape_known && w.size() == 4 && w[2] == 3 && w[3] == 3 &&
         node.attr_int("group", 1) == 1 && all_ones(node.attr_ints("strides")) &&
         all_ones(node.attr_ints("dilations"));
}

}  // namespace

int64_t winograd_extra_bytes(const Graph& graph) {
  int64_t bytes = 0;
  for (const Node& node : graph.nodes) {
    const bool onnx_domain = node.domain.empty() || node.domain == "ai.onnx";
    if (node.op_type != "Conv" || !onnx_domain || node.inputs.size() < 2 || node.inputs[1] < 0) {
      continue;
    }
    const Value& weights = graph.values[static_cast<std::size_t>(node.inputs[1])];
    if (!weights.constant || !fits_winograd(node, weights)) continue;
    int64_t elements = 1;
    for (int64_t d : weights.shape) elements *= d;
    bytes += 4 * elements * static_cast<int64_t>(sizeof(float));
  }
  return bytes;
}

}  // namespace mg::cpu
