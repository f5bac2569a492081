// The layout pass (layout.h) on hand-built graphs: which activations it holds channel-last,
// and that running with its choice gives what running without it gives.
#include "plugins/cpu/layout.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "plugins/cpu/executor.h"
#include "plugins/cpu/kernels/kernels.h"

namespace mg::cpu {
namespace {

// A graph built value by value: constants random in [-1, 1].
struct Builder {
  Graph graph;
  std::mt19937 rng{5};

  int value(const std::string& name, Shape shape, bool constant = false) {
    Value v{name};
    v.type = ElemType::kFloat;
    v.shape = shape;
    v.shape_known = true;
    if (constant) {
      Tensor t = Tensor::owned(ElemType::kFloat, shape);
      std::uniform_real_distribution<float> uniform(-1.f, 1.f);
      for (int64_t i = 0; i < t.size(); ++i) t.data<float>()[i] = uniform(rng);
      v.constant = std::move(t);
    }
    graph.values.push_back(std::move(v));
    return static_cast<int>(graph.values.size() - 1);
  }

  void node(const std::string& op, std::vector<int> in, int out,
            std::vector<Attribute> attributes = {}) {
    Node n;
    n.attributes = std::move(attributes);
    n.name = op + std::to_string(graph.nodes.size());
    n.op_type = op;
    n.opset = 17;
    n.kernel = OpTable::instance().find(op)->kernel;
    n.inputs = std::move(in);
    n.outputs = {out};
    if (op == "Conv") {
      Attribute pads;
      pads.name = "pads";
      pads.kind = Attribute::Kind::kInts;
      pads.ints = {1, 1, 1, 1};
      n.attributes.push_back(pads);
    }
    graph.nodes.push_back(std::move(n));
  }

  // A 3×3 Conv (pads 1) of `in` with `channels` to `maps` channels at `size`×`size`.
  int conv(int in, int64_t channels, int64_t maps, int64_t size, const std::string& name) {
    const int w = value(name + ".w", {maps, channels, 3, 3}, true);
    const int y = value(name, {-1, maps, size, size});
    node("Conv", {in, w}, y);
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
    for (int threads : {1, 2}) {
      Executor with(chosen, threads), without(plain, threads);
      for (int64_t batch : {1, 3}) {
        Tensor x = Tensor::owned(ElemType::kFloat, {batch, 4, 8, 8});
        for (int64_t i = 0; i < x.size(); ++i)
          x.data<float>()[i] = static_cast<float>((i * 37) % 23) / 11 - 1;
        const std::vector<Tensor> got = with.run({x}), want = without.run({x});
        ASSERT_EQ(got.size(), want.size());
        for (std::size_t o = 0; o < want.size(); ++o) {
          SCOPED_TRACE("output " + std::to_string(o) + ", batch " + std::to_string(batch) + ", " +
                       std::to_string(threads) + " threads");
          EXPECT_FALSE(got[o].channels_last);
          ASSERT_EQ(got[o].shape, want[o].shape);
          for (int64_t i = 0; i < want[o].size(); ++i) {
            ASSERT_NEAR(got[o].data<const float>()[i], want[o].data<const float>()[i],
                        1e-4f * (1.f + std::abs(want[o].data<const float>()[i])))
                << "element " << i;
          }
        }
      }
    }
  }
}

Attribute ints(const std::string& name, std::vector<int64_t> values) {
  Attribute a;
  a.name = name;
  a.kind = Attribute::Kind::kInts;
  a.ints = std::move(values);
  return a;
}

Attribute one_int(const std::string& name, int64_t value) {
  Attribute a;
  a.name = name;
  a.i = value;
  return a;
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
         {ints("kernel_shape", {3, 3}), ints("strides", {2, 2}), ints("pads", {1, 1, 1, 1})});
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
  g.node("Concat", {k.normed, k.b}, k.joined, {one_int("axis", 1)});
  k.averaged = g.value("averaged", {-1, 9, 3, 3});
  g.node("AveragePool", {k.joined}, k.averaged,
         {ints("kernel_shape", {2, 2}), ints("strides", {2, 2}), one_int("ceil_mode", 1)});
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
  for (int threads : {1, 2}) {
    Executor with(chosen, threads), without(plain, threads);
    for (int64_t batch : {1, 2}) {
      Tensor x = Tensor::owned(ElemType::kFloat, {batch, 4, 9, 9});
      for (int64_t i = 0; i < x.size(); ++i)
        x.data<float>()[i] = static_cast<float>((i * 37) % 23) / 11 - 1;
      const std::vector<Tensor> got = with.run({x}), want = without.run({x});
      SCOPED_TRACE("batch " + std::to_string(batch) + ", " + std::to_string(threads) + " threads");
      ASSERT_EQ(got[0].shape, want[0].shape);
      for (int64_t i = 0; i < want[0].size(); ++i) {
        ASSERT_NEAR(got[0].data<const float>()[i], want[0].data<const float>()[i],
                    1e-4f * (1.f + std::abs(want[0].data<const float>()[i])))
            << "element " << i;
      }
    }
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
