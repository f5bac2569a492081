#include "plugins/cpu/winograd_default.h"

#include <vector>

#include "plugins/cpu/cpu_error.h"
#include "plugins/cpu/kernels/conv.h"
#include "plugins/cpu/kernels/spatial.h"

namespace mg::cpu {
namespace {

// Whether a Conv with these weights (W [M, C / group, kernel…]) is one the Winograd kernels
// take, by the kernels' own rule on the node's window. Only its kernel, strides and
// dilations matter, so the window is made for an input large enough for any of them.
bool fits_winograd(const Node& node, const Value& weights) {
  const Shape& w = weights.shape;
  if (!weights.shape_known || w.size() < 3 || w.size() > 5) return false;
  const std::vector<int64_t> input(w.size(), int64_t{1} << 20);
  try {
    const Window window = make_window(node, input, Shape(w.begin() + 2, w.end()), false);
    return winograd_fits(window, node.attr_int("group", 1));
  } catch (const CpuError&) {
    return false;  // attributes the Conv kernel refuses when the model loads
  }
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
