// The layout pass (layout.h) on hand-built graphs: which activations it holds channel-last,
// and that running with its choice gives what running without it gives.
#include "plugins/cpu/layout.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "plugins/cpu/executor.h"
#include "plugins/cpu/kernels/kernels.h"
#include "tests/plugins/cpu/graph_builder.h"

namespace mg::cpu {
namespace {

using testing::expect_same_results;
using testing::int_attribute;
using testing::ints_attribute;

// The test graphs' builder, with 3×3 Convs (pads 1).
struct Builder : testing::GraphBuilder {
  // A 3×3 Conv (pads 1) of `in` with `channels` to `maps` channels at `size`×`size`.
  int conv(int in, int64_t channels, int64_t maps, int64_t size, const std::string& name) {
    const int w = value(name + ".w", {maps, channels, 3, 3}, true);
    const int y = value(name, {-1, maps, size, size});
    node("Conv", {in, w}, y, {ints_attribute("pads", {1, 1, 1, 1})});
    return y;
  }
};

// X [N, 4, 8, 8] → conv a → Relu → conv b → Add(b, relu) (a residual) → Mul by a
// squeeze-excitation scale Sigmoid(GlobalAveragePool(·)) → conv c → Y, and the
// residual sum also read by Flatten (a kernel that reads channel-first only) when
// `flatten_reads_sum`.
struct Block {
  Graph graph;
  int a, relu, b, sum, pooled, scale, scaled, c;
};

Block block(bool flatten_reads_sum) {
  Builder g;
  Block k;
  const int x = g.value("x", {-1, 4, 8, 8});
  k.a = g.conv(x, 4, 6, 8, "a");
  k.relu = g.value("relu", {-1, 6, 8, 8});
  g.node("Relu", {k.a}, k.relu);
  k.b = g.conv(k.relu, 6, 6, 8, "b");
  k.sum = g.value("sum", {-1, 6, 8, 8});
  g.node("Add", {k.b, k.relu}, k.sum);
  k.pooled = g.value("pooled", {-1, 6, 1, 1});
  g.node("GlobalAveragePool", {k.sum}, k.pooled);
  k.scale = g.value("scale", {-1, 6, 1, 1});
  g.node("Sigmoid", {k.pooled}, k.scale);
  k.scaled = g.value("scaled", {-1, 6, 8, 8});
  g.node("Mul", {k.sum, k.scale}, k.scaled);
  k.c = g.conv(k.scaled, 6, 3, 8, "c");
  g.graph.inputs = {x};
  g.graph.outputs = {k.c};
  if (flatten_reads_sum) {
    const int flat = g.value("flat", {-1, 384});
    g.node("Flatten", {k.sum}, flat);
    g.graph.outputs.push_back(flat);
  }
  k.graph = std::move(g.graph);
  return k;
}

TEST(Layout, ActivationsStayChannelLastFromConvToConvThroughElementwiseOperators) {
  Block k = block(false);
  EXPECT_EQ(choose_layouts(k.graph), 5);
  auto held = [&](int v) { return k.graph.values[static_cast<std::size_t>(v)].channels_last; };
  EXPECT_TRUE(held(k.a) && held(k.relu) && held(k.b) && held(k.sum) && held(k.scaled));
  EXPECT_FALSE(held(k.pooled) || held(k.scale)) << "[N, C, 1, 1] is the same in both orders";
  EXPECT_FALSE(held(k.c)) << "graph output";
  EXPECT_FALSE(held(0)) << "graph input";
}

TEST(Layout, AReaderOfChannelFirstOnlyKeepsTheWholeChainChannelFirst) {
  // Flatten reads the sum: the sum, and through the Add the conv b and the Relu (and
  // through the Relu conv a) must be channel-first; only the scaled product, between Mul
  // and conv c, may still be channel-last — but the Mul's varying input (the sum) is not.
  Block k = block(true);
  EXPECT_EQ(choose_layouts(k.graph), 0);
}

TEST(Layout, ResultsAreTheSameWithAndWithoutTheChoice) {
  for (bool flatten_reads_sum : {false, true}) {
    Block k = block(flatten_reads_sum);
    auto plain = std::make_shared<Graph>(k.graph);
    prepare_kernels(*plain);
    auto chosen = std::make_shared<Graph>(k.graph);
    choose_layouts(*chosen);
    prepare_kernels(*chosen);
    expect_same_results(chosen, plain, {{1, 4, 8, 8}, {3, 4, 8, 8}});
  }
}

// X [N, 4, 9, 9] → conv a → MaxPool (3×3, stride 2, pads 1: 5×5) → BatchNormalization
// → Concat with conv b of the pool → AveragePool (2×2, ceil mode: 3×3) → conv c → Y: the
// pools, the normalisation and the Concat in channel-last order.
struct Tower {
  Graph graph;
  int a, pooled, normed, b, joined, averaged, c;
};

Tower tower() {
  Builder g;
  Tower k;
  const int x = g.value("x", {-1, 4, 9, 9});
  k.a = g.conv(x, 4, 6, 9, "a");
  k.pooled = g.value("pooled", {-1, 6, 5, 5});
  g.node("MaxPool", {k.a}, k.pooled,
         {ints_attribute("kernel_shape", {3, 3}), ints_attribute("strides", {2, 2}),
          ints_attribute("pads", {1, 1, 1, 1})});
  std::vector<int> bn_inputs{k.pooled};
  for (const char* name : {"scale", "bias", "mean", "var"})
    bn_inputs.push_back(g.value(name, {6}, true));
  Tensor& var = *g.graph.values[static_cast<std::size_t>(bn_inputs[4])].constant;
  for (int64_t i = 0; i < var.size(); ++i)
    var.data<float>()[i] = std::abs(var.data<float>()[i]) + 0.1f;
  k.normed = g.value("normed", {-1, 6, 5, 5});
  g.node("BatchNormalization", bn_inputs, k.normed);
  k.b = g.conv(k.pooled, 6, 3, 5, "b");
  k.joined = g.value("joined", {-1, 9, 5, 5});
  g.node("Concat", {k.normed, k.b}, k.joined, {int_attribute("axis", 1)});
  k.averaged = g.value("averaged", {-1, 9, 3, 3});
  g.node("AveragePool", {k.joined}, k.averaged,
         {ints_attribute("kernel_shape", {2, 2}), ints_attribute("strides", {2, 2}),
          int_attribute("ceil_mode", 1)});
  k.c = g.conv(k.averaged, 9, 2, 3, "c");
  g.graph.inputs = {x};
  g.graph.outputs = {k.c};
  k.graph = std::move(g.graph);
  return k;
}

TEST(Layout, PoolsNormalisationAndConcatKeepTheChannelLastOrder) {
  Tower k = tower();
  EXPECT_EQ(choose_layouts(k.graph), 6);
  for (int v : {k.a, k.pooled, k.normed, k.b, k.joined, k.averaged}) {
    EXPECT_TRUE(k.graph.values[static_cast<std::size_t>(v)].channels_last)
        << k.graph.values[static_cast<std::size_t>(v)].name;
  }
  auto plain = std::make_shared<Graph>(k.graph);
  for (Value& v : plain->values) v.channels_last = false;
  prepare_kernels(*plain);
  auto chosen = std::make_shared<Graph>(k.graph);
  prepare_kernels(*chosen);
  expect_same_results(chosen, plain, {{1, 4, 9, 9}, {2, 4, 9, 9}});
}

// Global pools of a channel-last input wider than one block of channels (threads take
// 64 channels of an image at a time; 130 leaves a partial block), for one image and several.
TEST(Layout, GlobalPoolsOfManyChannelsReduceEveryBlock) {
  for (const char* op : {"GlobalAveragePool", "GlobalMaxPool"}) {
    SCOPED_TRACE(op);
    Builder g;
    const int x = g.value("x", {-1, 4, 6, 6});
    const int a = g.conv(x, 4, 130, 6, "a");
    const int pooled = g.value("pooled", {-1, 130, 1, 1});
    g.node(op, {a}, pooled);
    g.graph.inputs = {x};
    g.graph.outputs = {pooled};
    auto plain = std::make_shared<Graph>(g.graph);
    prepare_kernels(*plain);
    auto chosen = std::make_shared<Graph>(g.graph);
    EXPECT_EQ(choose_layouts(*chosen), 1);
    prepare_kernels(*chosen);
    expect_same_results(chosen, plain, {{1, 4, 6, 6}, {3, 4, 6, 6}});
  }
}

// A channel-first tensor that differs between the orders never broadcasts against a
// channel-last one: refused with a clear error, not computed wrong.
TEST(Layout, MixedOrdersThatDifferAreRefused) {
  Builder g;
  const int a = g.value("a", {1, 2, 3, 3}), b = g.value("b", {1, 2, 3, 3});
  const int y = g.value("y", {1, 2, 3, 3});
  g.node("Add", {a, b}, y);
  g.graph.inputs = {a, b};
  g.graph.outputs = {y};
  Executor executor(std::make_shared<Graph>(g.graph), 1);
  Tensor x = Tensor::owned(ElemType::kFloat, {1, 2, 3, 3});
  Tensor x_last = x;
  x_last.channels_last = true;
  try {
    executor.run({x_last, x});
    ADD_FAILURE() << "ran";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("cannot broadcast against a channel-last"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace mg::cpu
