#pragma once

#include <cstdint>

#include "plugins/cpu/graph.h"

namespace mg::cpu {

// The memory Winograd's F(4×4, 3×3) would hold for a graph: each 3×3, stride-1, undilated,
// ungrouped 2-D Conv keeps its weights transformed (6×6 per 3×3 kernel, 4× the plain copy)
// besides the plain ones. Read from the weights as exported, before any fusion.
int64_t winograd_extra_bytes(const Graph& graph);

// A batched model whose config does not say "conv_winograd" gets it while its transformed
// weights stay within this: the seed CNN (~290 KiB) and small image models do, for ~27 %
// off their batched convolutions; a ResNet-scale model (hundreds of MB transformed) keeps
// the direct algorithm and its memory unless its config asks.
inline constexpr int64_t kWinogradDefaultBudgetBytes = int64_t{16} << 20;

}  // namespace mg::cpu
