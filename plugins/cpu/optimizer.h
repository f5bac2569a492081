#pragma once

#include "plugins/cpu/graph.h"

namespace mg::cpu {

struct OptimizeStats {
  int folded = 0;   // nodes replaced by constants
  int removed = 0;  // Identity / Dropout / all-zero Pad nodes bypassed
  int fused = 0;    // Add (bias) and Relu merged into Gemm / MatMul / Conv, 2×2 MaxPool into Conv
  int transposed = 0;     // constant Gemm weights stored transposed (transB 1 → 0)
  int channels_last = 0;  // activations held channel-last between kernels (layout.h)
};

// Load-time graph rewrites, each keeping the graph's results the same:
//  - bypasses Identity, inference-mode Dropout and Pad with all pads zero;
//  - folds every node whose inputs are all constants into a constant (shape arithmetic
//    from exporters, Constant nodes, weight transposes…);
//  - turns MatMul(X, W) + B into Gemm(X, W, B) when X is 2-D and W, B are constants;
//  - fuses a Relu that is the only consumer of a Gemm, MatMul, Conv or BatchNormalization
//    into it;
//  - fuses a BatchNormalization (and its Relu) that is the only consumer of a
//    channel-axis Concat into the Concat;
//  - fuses a 2×2 stride-2 MaxPool that is the only consumer of a 2-D Conv into it;
//  - stores a constant Gemm B given as Bᵀ (transB=1) transposed, once;
//  - chooses which activations stay channel-last between kernels (choose_layouts).
// Throws CpuError when folding hits an error the model would hit on every request.
OptimizeStats optimize(Graph& graph);

}  // namespace mg::cpu
