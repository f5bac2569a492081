// Conv nodes prepared at load (prepare_kernels) with constant W: the packed weights that
// replace the graph's copy, and one image split by output channels across the threads.
#include <gtest/gtest.h>

#include <dnnl.hpp>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "plugins/cpu/executor.h"
#include "plugins/cpu/graph.h"
#include "plugins/cpu/kernels/conv.h"
#include "plugins/cpu/kernels/conv_onednn.h"
#include "plugins/cpu/kernels/kernels.h"
#include "tests/plugins/cpu/graph_builder.h"

namespace mg::cpu {
namespace {

using testing::expect_close;

// X (a graph input of shape x) → Conv with a constant W (random, from a fixed seed) and,
// with `bias`, a constant B [M], pads 1 → Y; the kernels prepared with `options`, or not
// (null).
std::shared_ptr<Graph> conv_graph_of(const Shape& x, const Shape& w_shape, bool bias,
                                     const KernelOptions* options) {
  auto g = std::make_shared<Graph>();
  g->values.resize(bias ? 4 : 3);
  for (Value& v : g->values) v.type = ElemType::kFloat;
  g->values[0].shape = x;
  g->values[0].shape_known = true;
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> uniform(-1.f, 1.f);
  auto constant = [&](std::size_t value, const Shape& shape) {
    Tensor t = Tensor::owned(ElemType::kFloat, shape);
    for (int64_t i = 0; i < t.size(); ++i) t.data<float>()[i] = uniform(rng);
    g->values[value].shape = shape;
    g->values[value].shape_known = true;
    g->values[value].constant = std::move(t);
  };
  constant(1, w_shape);
  if (bias) constant(2, {w_shape[0]});
  const int y = bias ? 3 : 2;
  g->inputs = {0};
  g->outputs = {y};
  Node conv;
  conv.name = "conv";
  conv.op_type = "Conv";
  conv.opset = 17;
  conv.inputs = bias ? std::vector<int>{0, 1, 2} : std::vector<int>{0, 1};
  conv.outputs = {y};
  Attribute pads;
  pads.name = "pads";
  pads.kind = Attribute::Kind::kInts;
  pads.ints = {1, 1, 1, 1};
  conv.attributes.push_back(pads);
  conv.kernel = OpTable::instance().find("Conv")->kernel;
  g->nodes.push_back(conv);
  if (options) prepare_kernels(*g, *options);
  return g;
}

// X [1, 4, 9, 9] → Conv with a constant W [8, 4, 3, 3], no B; the kernels prepared or not.
std::shared_ptr<Graph> conv_graph(bool prepared, bool winograd = false) {
  const KernelOptions options{.conv_winograd = winograd};
  return conv_graph_of({1, 4, 9, 9}, {8, 4, 3, 3}, false, prepared ? &options : nullptr);
}

// With a constant B, prepared for `threads` kernel threads, or not prepared (threads 0).
std::shared_ptr<Graph> biased_conv_graph(const Shape& x, const Shape& w_shape, int threads) {
  const KernelOptions options{.threads = threads};
  return conv_graph_of(x, w_shape, true, threads > 0 ? &options : nullptr);
}

std::vector<float> run_conv_graph(const std::shared_ptr<Graph>& g, const Shape& x_shape,
                                  int threads = 2) {
  Tensor x = Tensor::owned(ElemType::kFloat, x_shape);
  for (int64_t i = 0; i < x.size(); ++i) x.data<float>()[i] = static_cast<float>(i % 13) / 7 - 1;
  Executor executor(g, threads);
  const std::vector<Tensor> y = executor.run({x});
  return {y[0].data<const float>(), y[0].data<const float>() + y[0].size()};
}

// Weights are not held twice: once a Conv has W packed for oneDNN, the graph keeps only
// W's type and shape, and the Conv still runs — the shape it was prepared for, other
// shapes (W reordered from the packed copy), and the im2col path (W unpacked).
TEST(Conv, PackedWeightsReplaceTheGraphsCopy) {
  auto plain = conv_graph(false);
  auto packed = conv_graph(true);
  const Tensor& dropped = *packed->values[1].constant;
  EXPECT_EQ(dropped.bytes, nullptr);
  EXPECT_EQ(dropped.shape, (Shape{8, 4, 3, 3}));
  EXPECT_TRUE(packed->nodes[0].state->holds_constant_input(1));
  for (const Shape& x_shape : {Shape{1, 4, 9, 9}, Shape{3, 4, 9, 9}, Shape{2, 4, 17, 6}}) {
    expect_close(run_conv_graph(packed, x_shape), run_conv_graph(plain, x_shape),
                 "X " + shape_text(x_shape));
  }
  ConvPlan plan = plan_conv(packed->nodes[0], {1, 4, 9, 9}, {8, 4, 3, 3});
  std::vector<float> storage;
  const float* unpacked = unpacked_conv_weights(plan, packed->nodes[0].state.get(), storage);
  const Tensor& original = *plain->values[1].constant;
  ASSERT_NE(unpacked, nullptr);
  for (int64_t i = 0; i < original.size(); ++i)
    ASSERT_EQ(unpacked[i], original.data<const float>()[i]) << "element " << i;

  // Winograd's transformed weights cannot be reordered back: W stays.
  auto winograd = conv_graph(true, true);
  EXPECT_NE(winograd->values[1].constant->bytes, nullptr);
}

// One image on two threads is split by output channels where W outweighs the image (as in
// DenseNet's late layers: 1×1 convolutions of up to 1,024 channels on 6×6 pixels), each
// part reading its rows of the packed W in place; other shapes and batches run as before.
// Every result is the unsplit convolution's.
TEST(Conv, OneImageIsSplitByOutputChannelsWhereWeightsOutweighIt) {
  const Shape x{1, 64, 5, 5}, w{128, 64, 3, 3};  // X 6.4 KB, W 295 KB
  auto split = biased_conv_graph(x, w, 2);
  auto plain = biased_conv_graph(x, w, 0);
  const ChannelSplit made = onednn_conv_channel_split(split->nodes[0].state.get());
  EXPECT_EQ(made.parts, 2);
  // W is not held twice where oneDNN's layout blocks output channels outermost (AVX-512).
  if (dnnl::get_effective_cpu_isa() >= dnnl::cpu_isa::avx512_core) {
    EXPECT_TRUE(made.weights_shared);
  }
  EXPECT_EQ(onednn_conv_channel_split(biased_conv_graph(x, w, 1)->nodes[0].state.get()).parts, 0);
  // 3 threads: 128 maps are no equal parts of a multiple of 32 channels.
  EXPECT_EQ(onednn_conv_channel_split(biased_conv_graph(x, w, 3)->nodes[0].state.get()).parts, 0);
  for (const Shape& x_shape : {x, Shape{2, 64, 5, 5}, Shape{1, 64, 9, 4}}) {
    const std::vector<float> want = run_conv_graph(plain, x_shape, 1);
    expect_close(run_conv_graph(split, x_shape, 2), want, "split, X " + shape_text(x_shape));
    expect_close(run_conv_graph(split, x_shape, 1), want,
                 "split on 1 thread, X " + shape_text(x_shape));
  }
  // Where the image outweighs W: bands of rows, no split.
  auto banded = biased_conv_graph({1, 8, 32, 32}, {64, 8, 3, 3}, 2);
  EXPECT_EQ(onednn_conv_channel_split(banded->nodes[0].state.get()).parts, 0);
}

}  // namespace
}  // namespace mg::cpu
