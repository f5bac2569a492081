#include "plugins/cpu/optimizer.h"

#include <algorithm>
#include <limits>
#include <map>

#include "plugins/cpu/kernel.h"
#include "plugins/cpu/kernels/array_ops.h"
#include "plugins/cpu/kernels/kernels.h"
#include "plugins/cpu/layout.h"

namespace mg::cpu {
namespace {

// A node's folded result is kept only when small: big constants would cost memory twice.
constexpr std::size_t kMaxFoldedBytes = 64 << 20;

void replace_uses(Graph& graph, int from, int to) {
  for (Node& node : graph.nodes) {
    std::replace(node.inputs.begin(), node.inputs.end(), from, to);
  }
}

// Removes every node `copies_its_input` says passes its first input through unchanged,
// its readers reading that input instead (not when its output is a graph output).
template <typename Predicate>
int bypass(Graph& graph, Predicate copies_its_input) {
  int removed = 0;
  for (std::size_t i = 0; i < graph.nodes.size();) {
    const Node& node = graph.nodes[i];
    if (!node.inputs.empty() && node.inputs[0] >= 0 && !node.outputs.empty() &&
        !is_graph_output(graph, node.outputs[0]) && copies_its_input(node)) {
      replace_uses(graph, node.outputs[0], node.inputs[0]);
      graph.nodes.erase(graph.nodes.begin() + static_cast<std::ptrdiff_t>(i));
      ++removed;
    } else {
      ++i;
    }
  }
  return removed;
}

int bypass_identities(Graph& graph) {
  return bypass(graph, [](const Node& node) {
    const bool dropout = node.op_type == "Dropout" &&
                         (node.outputs.size() < 2 || node.outputs[1] < 0) &&
                         (node.inputs.size() < 3 || node.inputs[2] < 0);
    return node.op_type == "Identity" || dropout;
  });
}

// A Pad whose pads are all zero copies its input: exporters write one before pools
// (torch's avg_pool2d, e.g. DenseNet's transitions). Bypassed, it also stops forcing its
// neighbours into channel-first order (Pad reads only that order). Runs after constant
// folding, which turns the pads' Constant node into a constant value.
int bypass_zero_pads(Graph& graph) {
  const auto zeros = [](const int64_t* begin, const int64_t* end) {  // none: malformed, kept
    return begin != end && std::all_of(begin, end, [](int64_t v) { return v == 0; });
  };
  return bypass(graph, [&](const Node& node) {
    if (node.op_type != "Pad" || !node.domain.empty()) return false;
    if (node.inputs.size() > 1 && node.inputs[1] >= 0) {  // opset 11+: pads is an input
      const Value& pads = graph.values[static_cast<std::size_t>(node.inputs[1])];
      return pads.constant && pads.constant->type == ElemType::kInt64 &&
             zeros(pads.constant->data<const int64_t>(),
                   pads.constant->data<const int64_t>() + pads.constant->size());
    }
    if (node.opset >= 11) return false;  // pads omitted: a malformed node, left to its kernel
    const std::vector<int64_t> pads = node.attr_ints("pads");  // an attribute before 11
    return zeros(pads.data(), pads.data() + pads.size());
  });
}

int fold_constants(Graph& graph) {
  int folded = 0;
  BufferPool pool;
  ThreadPool threads(1);
  for (std::size_t i = 0; i < graph.nodes.size();) {
    Node& node = graph.nodes[i];
    bool all_constant = true;
    std::vector<const Tensor*> inputs;
    for (int in : node.inputs) {
      if (in < 0) {
        inputs.push_back(nullptr);
        continue;
      }
      const Value& v = graph.values[static_cast<std::size_t>(in)];
      all_constant = all_constant && v.constant.has_value();
      inputs.push_back(v.constant ? &*v.constant : nullptr);
    }
    bool outputs_are_graph_outputs = false;
    for (int out : node.outputs)
      outputs_are_graph_outputs |= out >= 0 && is_graph_output(graph, out);
    if (!all_constant || outputs_are_graph_outputs) {
      ++i;
      continue;
    }
    std::vector<Tensor> outputs(node.outputs.size());
    KernelContext ctx{node, inputs, outputs, pool, threads};
    try {
      node.kernel(ctx);
    } catch (const CpuError& e) {
      if (e.kind() == CpuError::kOutOfMemory) {  // leave it to run time
        ++i;
        continue;
      }
      throw;
    }
    bool small = true;
    for (const auto& t : outputs) small = small && t.byte_size() <= kMaxFoldedBytes;
    if (!small) {
      ++i;
      continue;
    }
    for (std::size_t k = 0; k < node.outputs.size(); ++k) {
      if (node.outputs[k] < 0) continue;
      // Copy out of the pool: constants outlive it.
      Tensor constant = Tensor::owned(outputs[k].type, outputs[k].shape);
      std::copy(outputs[k].bytes, outputs[k].bytes + outputs[k].byte_size(), constant.bytes);
      Value& v = graph.values[static_cast<std::size_t>(node.outputs[k])];
      v.type = constant.type;
      v.shape = constant.shape;
      v.shape_known = true;
      v.constant = std::move(constant);
    }
    graph.nodes.erase(graph.nodes.begin() + static_cast<std::ptrdiff_t>(i));
    ++folded;
  }
  return folded;
}

const Value& value(const Graph& graph, int id) {
  return graph.values[static_cast<std::size_t>(id)];
}

// An INT attribute set to 1: the flags fused kernels read ("_relu", "_swish", …).
Attribute flag(const char* name) {
  Attribute a;
  a.name = name;
  a.i = 1;
  return a;
}

// The producer takes over the work of its only consumer (index `consumer`): it gets the
// flag its kernel reads and the consumer's output, and the consumer goes.
void absorb_consumer(Graph& graph, Node& producer, int consumer, const char* flag_name) {
  producer.attributes.push_back(flag(flag_name));
  producer.outputs[0] = graph.nodes[static_cast<std::size_t>(consumer)].outputs[0];
  graph.nodes.erase(graph.nodes.begin() + consumer);
}

// MaxPool with a 2×2 window, stride 2, no padding or dilation, floor mode, and no
// Indices output: the pooling a Conv kernel can do itself.
bool is_plain_2x2_max_pool(const Node& pool) {
  if (pool.op_type != "MaxPool" || pool.outputs.empty()) return false;
  if (pool.outputs.size() > 1 && pool.outputs[1] >= 0) return false;
  auto all = [](const std::vector<int64_t>& v, int64_t x) {
    return std::all_of(v.begin(), v.end(), [x](int64_t e) { return e == x; });
  };
  const auto pads = pool.attr_ints("pads");
  const auto dilations = pool.attr_ints("dilations");
  const std::string auto_pad = pool.attr_string("auto_pad", "NOTSET");
  return pool.attr_ints("kernel_shape") == std::vector<int64_t>{2, 2} &&
         pool.attr_ints("strides") == std::vector<int64_t>{2, 2} && all(pads, 0) &&
         all(dilations, 1) && pool.attr_int("ceil_mode", 0) == 0 &&
         pool.attr_int("storage_order", 0) == 0 && (auto_pad == "NOTSET" || auto_pad == "VALID");
}

// A scalar FP32 constant input of `node`, or `fallback` when the input is omitted; false
// when it is there but not a constant scalar.
bool constant_scalar(const Graph& graph, const Node& node, std::size_t input, float fallback,
                     float& out) {
  if (input >= node.inputs.size() || node.inputs[input] < 0) {
    out = fallback;
    return true;
  }
  const Value& v = value(graph, node.inputs[input]);
  if (!v.constant || v.constant->type != ElemType::kFloat || v.constant->size() != 1) return false;
  out = v.constant->data<const float>()[0];
  return true;
}

// Fuses the activation that alone reads Conv node `index`'s output into the Conv; 1 if
// it did. The fused node(s) go from the graph.
int fuse_conv_activation(Graph& graph, std::size_t index) {
  Node& conv = graph.nodes[index];
  for (const auto& a : conv.attributes) {
    if (a.name == "_relu" || a.name == "_clip" || a.name == "_swish" || a.name == "_hardswish") {
      return 0;  // it has one already
    }
  }
  const int out = conv.outputs[0];
  if (is_graph_output(graph, out) || value(graph, out).type != ElemType::kFloat) return 0;
  const auto users = consumers_of(graph, out);
  if (users.size() == 1) {
    Node& next = graph.nodes[static_cast<std::size_t>(users[0])];
    if (next.op_type == "HardSwish") {
      absorb_consumer(graph, conv, users[0], "_hardswish");
      return 1;
    }
    if (next.op_type == "Clip") {
      float lo = -std::numeric_limits<float>::infinity(),
            hi = std::numeric_limits<float>::infinity();
      if (next.opset < 11) {
        lo = next.attr_float("min", lo);
        hi = next.attr_float("max", hi);
      } else if (!constant_scalar(graph, next, 1, lo, lo) ||
                 !constant_scalar(graph, next, 2, hi, hi)) {
        return 0;
      }
      Attribute bounds;
      bounds.name = "_clip";
      bounds.kind = Attribute::Kind::kFloats;
      bounds.floats = {lo, hi};
      conv.attributes.push_back(bounds);
      conv.outputs[0] = next.outputs[0];
      graph.nodes.erase(graph.nodes.begin() + users[0]);
      return 1;
    }
    return 0;
  }
  // SiLU: the Conv's output read by exactly a Sigmoid and a Mul of the two.
  if (users.size() != 2) return 0;
  int sigmoid = users[0], mul = users[1];
  if (graph.nodes[static_cast<std::size_t>(sigmoid)].op_type != "Sigmoid") std::swap(sigmoid, mul);
  const Node& s = graph.nodes[static_cast<std::size_t>(sigmoid)];
  const Node& m = graph.nodes[static_cast<std::size_t>(mul)];
  if (s.op_type != "Sigmoid" || m.op_type != "Mul" || m.inputs.size() != 2) return 0;
  const int s_out = s.outputs[0];
  const bool pairs =
      (m.inputs[0] == out && m.inputs[1] == s_out) || (m.inputs[1] == out && m.inputs[0] == s_out);
  if (!pairs || is_graph_output(graph, s_out) || consumers_of(graph, s_out).size() != 1) return 0;
  conv.attributes.push_back(flag("_swish"));
  conv.outputs[0] = m.outputs[0];
  graph.nodes.erase(graph.nodes.begin() + std::max(sigmoid, mul));
  graph.nodes.erase(graph.nodes.begin() + std::min(sigmoid, mul));
  return 1;
}

// BatchNormalization (with its fused Relu, if any) as the only consumer of a channel-axis
// Concat: the Concat writes each channel scaled and shifted as it copies it, so the
// activation is written and read once instead of twice. DenseNet's layers each
// concatenate every feature map before them and normalise the result: 62 of
// DenseNet-121's BatchNormalization nodes.
int fuse_concat_batch_norm(Graph& graph) {
  int fused = 0;
  for (std::size_t i = 0; i < graph.nodes.size(); ++i) {
    Node& concat = graph.nodes[i];
    if (concat.op_type != "Concat" || concat.outputs.empty() || concat.outputs[0] < 0) continue;
    const Value& joined = value(graph, concat.outputs[0]);
    if (joined.type != ElemType::kFloat || !joined.shape_known || joined.shape.size() < 2) continue;
    const auto rank = static_cast<int64_t>(joined.shape.size());
    const int64_t axis = concat.attr_int("axis", 0);
    if (axis != 1 && axis != 1 - rank) continue;
    auto users = consumers_of(graph, concat.outputs[0]);
    if (users.size() != 1 || is_graph_output(graph, concat.outputs[0])) continue;
    Node& bn = graph.nodes[static_cast<std::size_t>(users[0])];
    if (bn.op_type != "BatchNormalization" || bn.inputs.size() != 5 ||
        bn.inputs[0] != concat.outputs[0] || bn.attr_int("training_mode", 0) != 0 ||
        std::any_of(bn.outputs.begin() + 1, bn.outputs.end(), [](int o) { return o >= 0; })) {
      continue;
    }
    const int64_t channels = joined.shape[1];
    std::vector<const float*> params;
    for (std::size_t k = 1; k <= 4; ++k) {
      const Value& v = value(graph, bn.inputs[k]);
      if (!v.constant || v.constant->type != ElemType::kFloat || v.constant->size() != channels)
        break;
      params.push_back(v.constant->data<const float>());
    }
    if (params.size() != 4) continue;
    const float eps = bn.attr_float("epsilon", 1e-5f);
    Attribute scale, shift;
    scale.name = "_scale";
    shift.name = "_shift";
    scale.kind = shift.kind = Attribute::Kind::kFloats;
    scale.floats.resize(static_cast<std::size_t>(channels));
    shift.floats.resize(scale.floats.size());
    batch_norm_affine(params[0], params[1], params[2], params[3], eps, channels,
                      scale.floats.data(), shift.floats.data());
    concat.attributes.push_back(std::move(scale));
    concat.attributes.push_back(std::move(shift));
    if (bn.attr_int("_relu", 0) != 0) concat.attributes.push_back(flag("_relu"));
    concat.outputs[0] = bn.outputs[0];
    graph.nodes.erase(graph.nodes.begin() + users[0]);
    ++fused;
  }
  return fused;
}

int fuse(Graph& graph) {
  int fused = 0;
  // MatMul(X, W) → Add(·, B) with X of rank 2, W a constant matrix and B a constant
  // vector of N (or [1, N]): Gemm(X, W, B).
  for (std::size_t i = 0; i < graph.nodes.size(); ++i) {
    Node& mm = graph.nodes[i];
    if (mm.op_type != "MatMul" || mm.inputs.size() != 2) continue;
    const Value& x = value(graph, mm.inputs[0]);
    const Value& w = value(graph, mm.inputs[1]);
    if (!x.shape_known || x.shape.size() != 2 || !w.constant || w.constant->rank() != 2) continue;
    auto users = consumers_of(graph, mm.outputs[0]);
    if (users.size() != 1 || is_graph_output(graph, mm.outputs[0])) continue;
    Node& add = graph.nodes[static_cast<std::size_t>(users[0])];
    if (add.op_type != "Add") continue;
    const int bias_id = add.inputs[0] == mm.outputs[0] ? add.inputs[1] : add.inputs[0];
    const Value& bias = value(graph, bias_id);
    const int64_t n = w.constant->dim(1);
    if (!bias.constant || bias.constant->type != ElemType::kFloat || bias.constant->size() != n ||
        bias.constant->rank() > 2 || (bias.constant->rank() == 2 && bias.constant->dim(0) != 1)) {
      continue;
    }
    mm.op_type = "Gemm";
    mm.kernel = OpTable::instance().find("Gemm")->kernel;
    mm.inputs.push_back(bias_id);
    mm.outputs[0] = add.outputs[0];
    graph.nodes.erase(graph.nodes.begin() + users[0]);
    ++fused;
  }
  // Relu as the only consumer of Gemm / MatMul / Conv / BatchNormalization: applied in
  // the producer's kernel (DenseNet's BatchNormalization → Relu → Conv blocks: one pass
  // over the activation instead of two).
  for (std::size_t i = 0; i < graph.nodes.size(); ++i) {
    Node& producer = graph.nodes[i];
    if (producer.op_type != "Gemm" && producer.op_type != "MatMul" && producer.op_type != "Conv" &&
        producer.op_type != "BatchNormalization") {
      continue;
    }
    auto users = consumers_of(graph, producer.outputs[0]);
    if (users.size() != 1 || is_graph_output(graph, producer.outputs[0])) continue;
    Node& relu = graph.nodes[static_cast<std::size_t>(users[0])];
    if (relu.op_type != "Relu" || value(graph, producer.outputs[0]).type != ElemType::kFloat) {
      continue;
    }
    absorb_consumer(graph, producer, users[0], "_relu");
    ++fused;
  }
  fused += fuse_concat_batch_norm(graph);
  // Conv's other activations, applied in its output pass (oneDNN post-ops): Clip with
  // constant bounds (ReLU6), HardSwish, and SiLU as exported (x · Sigmoid(x)).
  for (std::size_t i = 0; i < graph.nodes.size(); ++i) {
    if (graph.nodes[i].op_type == "Conv") fused += fuse_conv_activation(graph, i);
  }
  // A 2×2, stride-2 MaxPool as the only consumer of a 2-D Conv: pooled in the Conv's own
  // output pass, so the full-size activation is never written or read back (max commutes
  // with the bias and the Relu the Conv applies).
  for (std::size_t i = 0; i < graph.nodes.size(); ++i) {
    Node& conv = graph.nodes[i];
    if (conv.op_type != "Conv" || conv.inputs.size() < 2) continue;
    const Value& w = value(graph, conv.inputs[1]);
    if (!w.shape_known || w.shape.size() != 4) continue;
    auto users = consumers_of(graph, conv.outputs[0]);
    if (users.size() != 1 || is_graph_output(graph, conv.outputs[0])) continue;
    Node& pool = graph.nodes[static_cast<std::size_t>(users[0])];
    if (!is_plain_2x2_max_pool(pool)) continue;
    // Pooling before the activation needs one that commutes with max.
    if (conv.attr_int("_swish", 0) != 0 || conv.attr_int("_hardswish", 0) != 0) continue;
    absorb_consumer(graph, conv, users[0], "_maxpool2x2");
    ++fused;
  }
  return fused;
}

// Gemm(A, B, transB=1) with B a constant matrix no other node reads: B is transposed once
// here and transB cleared. oneDNN's sgemm is ~30 % faster on B as [K, N] than on Bᵀ (it
// repacks Bᵀ on every call), and PyTorch exports every Linear layer with transB=1.
int pretranspose_gemm_weights(Graph& graph) {
  int transposed = 0;
  for (Node& gemm : graph.nodes) {
    if (gemm.op_type != "Gemm" || gemm.inputs.size() < 2 || gemm.attr_int("transB", 0) == 0) {
      continue;
    }
    Value& b = graph.values[static_cast<std::size_t>(gemm.inputs[1])];
    if (!b.constant || b.constant->type != ElemType::kFloat || b.constant->rank() != 2 ||
        consumers_of(graph, gemm.inputs[1]).size() != 1 || is_graph_output(graph, gemm.inputs[1])) {
      continue;
    }
    const int64_t n = b.constant->dim(0), k = b.constant->dim(1);
    Tensor t = Tensor::owned(ElemType::kFloat, {k, n});
    const float* src = b.constant->data<const float>();
    float* dst = t.data<float>();
    for (int64_t r = 0; r < n; ++r) {
      for (int64_t c = 0; c < k; ++c) dst[c * n + r] = src[r * k + c];
    }
    b.shape = t.shape;
    b.constant = std::move(t);
    for (Attribute& a : gemm.attributes) {
      if (a.name == "transB") a.i = 0;
    }
    ++transposed;
  }
  return transposed;
}

}  // namespace

OptimizeStats optimize(Graph& graph) {
  OptimizeStats stats;
  stats.removed = bypass_identities(graph);
  stats.folded = fold_constants(graph);
  stats.removed += bypass_zero_pads(graph);
  stats.fused = fuse(graph);
  stats.transposed = pretranspose_gemm_weights(graph);
  stats.channels_last = choose_layouts(graph);
  return stats;
}

}  // namespace mg::cpu
