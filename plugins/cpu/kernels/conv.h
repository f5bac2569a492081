#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "plugins/cpu/graph.h"
#include "plugins/cpu/kernels/spatial.h"
#include "plugins/cpu/tensor.h"
#include "plugins/cpu/thread_pool.h"

namespace mg::cpu {

// Conv's two ways to compute, shared by its kernel (conv.cpp), the oneDNN path
// (conv_onednn.h) and the tests.

// The element-wise function a Conv applies to its output, fused by the optimizer from
// the node that followed it: Relu ("_relu"), Clip with constant bounds ("_clip": ReLU6),
// x·sigmoid(x) ("_swish": SiLU, exported as Sigmoid and Mul) or HardSwish ("_hardswish").
struct ConvActivation {
  enum class Kind { kNone, kRelu, kClip, kSwish, kHardSwish };
  Kind kind = Kind::kNone;
  float lo = 0, hi = 0;  // kClip's bounds
  // Non-decreasing: commutes with max, so a fused MaxPool may pool first.
  bool monotone() const { return kind != Kind::kSwish && kind != Kind::kHardSwish; }
  float apply(float v) const {
    switch (kind) {
      case Kind::kRelu:
        return v > 0.f ? v : 0.f;
      case Kind::kClip:
        return v < lo ? lo : (v > hi ? hi : v);
      case Kind::kSwish:
        return v / (1.f + std::exp(-v));
      case Kind::kHardSwish:
        return v * std::max(0.f, std::min(1.f, v / 6.f + 0.5f));
      default:
        return v;
    }
  }
};

// What one Conv node computes on one run, in ONNX terms: X [N, C, spatial…], W [M, C /
// group, kernel…], optional B [M], into Y — with the activation and the 2×2 stride-2
// MaxPool the optimizer may have fused into it.
struct ConvPlan {
  const float* x = nullptr;
  const float* weights = nullptr;
  const float* bias = nullptr;  // null when the node has no B
  float* y = nullptr;
  Window w;
  int64_t batch = 0, channels = 0, maps = 0, group = 1;
  ConvActivation activation;
  bool pool2x2 = false;  // a fused 2×2 stride-2 MaxPool: y holds the pooled maps
  // x / y in channel-last order (N, spatial…, C) rather than (N, C, spatial…): how a Conv
  // hands its output on when the layout pass holds it channel-last (layout.h).
  bool x_channels_last = false, y_channels_last = false;
  // The channels of the tensor y points into, when this plan computes only some of its
  // output channels (a thread's share of one image, conv_onednn.cpp); 0: maps.
  int64_t y_channels = 0;
  // oneDNN may use Winograd where it fits; read when there is no node state (the node's
  // state holds the model's KernelOptions).
  bool winograd = false;
  // Derived by complete_plan:
  int64_t c_group = 0, m_group = 0;
  int64_t col_rows = 0, out_size = 0;  // of im2col: C / group · kernel size, output pixels
  bool pointwise = false;
  int64_t y_size = 0;  // floats per output map in y
  Shape y_shape;       // set by plan_conv
};

// 3×3, stride 1, no dilation, no groups, 2-D: the convolutions oneDNN's Winograd
// F(4×4, 3×3) may take, with ~4× fewer multiplications. One rule for the kernel that asks
// for it (conv_onednn_slice.cpp) and for the load-time count of its memory
// (winograd_default.h).
bool winograd_fits(const Window& w, int64_t group);

// The geometry of a Conv node for X and W of these shapes (pointers left null), checked:
// throws CpuError (kInvalid) naming the node and what disagrees.
ConvPlan plan_conv(const Node& node, const Shape& x, const Shape& weight);

// Fills the derived fields from the others.
void complete_plan(ConvPlan& plan);

// im2col + GEMM over chunks of images sized so the columns and the product stay in a
// 512 KiB cache; with a chunk per thread or more, threads take whole chunks. Channel-last
// x or y is transposed from or to a temporary (this path is the rare fallback).
void run_im2col_conv(const ConvPlan& plan, ThreadPool& threads);

}  // namespace mg::cpu
