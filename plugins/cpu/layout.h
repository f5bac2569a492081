#pragma once

#include "plugins/cpu/graph.h"

namespace mg::cpu {

// Which 4-D activations kernels hand each other in channel-last order (N, H, W, C): the
// order oneDNN's fastest convolutions read and write. A Conv's output stays channel-last
// through the operators that follow their inputs' order — element-wise ones (activations,
// Add/Sub/Mul/Div: a residual sum, a squeeze-excitation scale), 2-D pools,
// BatchNormalization, Concat — into global pools and the next Conv, when every kernel on
// the way reads that order; reordering to ONNX's (N, C, H, W) and back around each of them
// cost EfficientNet a fifth of its time. Graph inputs and outputs stay channel-first.
//
// A value whose shape is unknown may be flagged and turn out [N, C, 1, 1] at run time:
// kernels treat a flag on such a tensor as meaningless.
//
// Sets Value::channels_last; returns how many values it set. Run once the graph is final.
int choose_layouts(Graph& graph);

// Whether `node`'s kernel reads input `input` in either order (it looks at the tensor's
// channels_last flag): a Conv's or a pool's X, an element-wise operator's or a Concat's
// inputs, BatchNormalization's X.
bool reads_channels_last(const Node& node, std::size_t input);

// Whether a value of `shape` is laid out the same in both orders: after aligning it to
// rank 4 from the right, one channel or a single pixel ([N, C, 1, 1], a bias [C, 1, 1]).
bool same_in_both_orders(const Shape& shape);

}  // namespace mg::cpu
