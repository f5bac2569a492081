#pragma once

#include <memory>
#include <string>
#include <vector>

#include "plugins/cpu/graph.h"
#include "plugins/cpu/kernels/conv.h"
#include "plugins/cpu/kernels/kernels.h"
#include "plugins/cpu/thread_pool.h"

namespace mg::cpu {

// Conv on oneDNN's convolution primitive: a direct convolution JIT-compiled for this CPU
// (no im2col copy), with the fused Relu as a post-op and the fused pool as oneDNN's pooling,
// run on slices of the batch small enough that a slice's intermediates stay in cache.

// The node's state: primitives per slice shape and, when W is a constant, W reordered
// once into the layout the primitives read; with several threads, the primitives that
// share one image between them (bands of rows, or parts by output channel).
std::shared_ptr<KernelState> prepare_onednn_conv(const Node& node, const Graph& graph,
                                                 const KernelOptions& options);

// Whether the node whose state this is writes its Y channel-last (false for null).
bool conv_output_channels_last(const KernelState* state);

// The name of the oneDNN implementation that runs the plan's whole slices ("" when oneDNN
// has none): for tests, which must know the path they cover, and for diagnostics.
std::string onednn_conv_implementation(const ConvPlan& plan);

// How many bands of output rows one image of the plan is cut into when `threads` threads
// share it: `threads` when every band is a convolution oneDNN runs, else 1 (whole images).
// For tests, which must know the path they cover.
int onednn_conv_bands(const ConvPlan& plan, int threads);

// One image split by output channels across the threads, as made at load: into how many
// parts (0: none, bands or whole images instead) and whether every part reads its rows of
// W inside the node's whole packed copy (W not held twice). For tests.
struct ChannelSplit {
  int parts = 0;
  bool weights_shared = false;
};
ChannelSplit onednn_conv_channel_split(const KernelState* state);

// The plan's W in ONNX's layout: plan.weights, or when the graph dropped W for the
// node's packed copy (null plan.weights), unpacked from it into `storage`. For the
// im2col path, which runs what oneDNN refuses.
const float* unpacked_conv_weights(const ConvPlan& plan, KernelState* state,
                                   std::vector<float>& storage);

// Runs the plan. False when oneDNN has no implementation for it, so the caller computes
// it another way. `state` may be null (a Conv folded at load): then nothing is kept.
bool run_onednn_conv(const ConvPlan& plan, KernelState* state, ThreadPool& threads);

}  // namespace mg::cpu
