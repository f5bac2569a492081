// Conv's two paths — oneDNN's convolution primitive and im2col + GEMM — against a plain
// seven-loop convolution written here, over the geometries ONNX allows: 1-D to 3-D, pads
// (asymmetric), strides, dilations, groups (depthwise too), 1×1, no bias, the fused Relu
// and 2×2 MaxPool; batches that cut into several slices with a remainder; 1 and 2
// threads; weights constant (packed once and kept) or not (they change between runs); X
// and Y in channel-last order, as one Conv hands its output to the next.
#include "plugins/cpu/kernels/conv.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <dnnl.hpp>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "plugins/cpu/executor.h"
#include "plugins/cpu/graph.h"
#include "plugins/cpu/kernels/conv_onednn.h"
#include "plugins/cpu/kernels/kernels.h"
#include "plugins/cpu/layout.h"
#include "tests/plugins/cpu/graph_builder.h"

namespace mg::cpu {
namespace {

struct Geometry {
  std::string name;
  int spatial = 2;
  int64_t channels = 0, maps = 0, group = 1;
  std::array<int64_t, 3> in{1, 1, 1}, kernel{1, 1, 1}, stride{1, 1, 1}, dilation{1, 1, 1};
  std::array<int64_t, 3> pad_begin{0, 0, 0}, pad_end{0, 0, 0};
  bool bias = true, relu = false, pool = false;
  ConvActivation activation;  // when not relu
};

ConvActivation clip(float lo, float hi) {
  ConvActivation a;
  a.kind = ConvActivation::Kind::kClip;
  a.lo = lo;
  a.hi = hi;
  return a;
}

ConvActivation of_kind(ConvActivation::Kind kind) {
  ConvActivation a;
  a.kind = kind;
  return a;
}

std::vector<Geometry> geometries() {
  std::vector<Geometry> g;
  g.push_back({"3x3", 2, 8, 16, 1, {1, 13, 13}, {1, 3, 3}});
  g.push_back({"first layer, C=1, relu, pool", 2, 1, 32, 1, {1, 28, 28}, {1, 3, 3}});
  g.back().relu = g.back().pool = true;
  g.push_back({"relu, pool, odd size", 2, 3, 16, 1, {1, 12, 11}, {1, 3, 3}});
  g.back().relu = g.back().pool = true;
  g.push_back({"pool without relu, no bias", 2, 4, 8, 1, {1, 10, 10}, {1, 3, 3}});
  g.back().pool = true;
  g.back().bias = false;
  g.push_back({"strides 2, asymmetric pads", 2, 5, 7, 1, {1, 9, 11}, {1, 3, 2}, {1, 2, 2}});
  g.back().pad_begin = {0, 1, 0};
  g.back().pad_end = {0, 2, 1};
  g.push_back({"dilations 2", 2, 4, 6, 1, {1, 12, 10}, {1, 3, 3}, {1, 1, 1}, {1, 2, 2}});
  g.push_back({"groups 2", 2, 8, 12, 2, {1, 9, 9}, {1, 3, 3}});
  g.push_back({"depthwise", 2, 16, 16, 16, {1, 10, 10}, {1, 3, 3}, {1, 1, 1}, {1, 1, 1}});
  g.back().pad_begin = g.back().pad_end = {0, 1, 1};
  g.push_back({"1x1", 2, 24, 8, 1, {1, 7, 7}, {1, 1, 1}});
  g.push_back({"1-D", 1, 6, 10, 1, {1, 1, 30}, {1, 1, 5}, {1, 1, 2}});
  g.back().pad_begin = g.back().pad_end = {0, 0, 2};
  g.push_back({"3-D", 3, 3, 4, 1, {5, 6, 7}, {2, 3, 3}});
  g.back().pad_begin = {1, 1, 0};
  // oneDNN runs these with Winograd's algorithm (checked below).
  g.push_back({"Winograd, relu, pool", 2, 32, 64, 1, {1, 13, 13}, {1, 3, 3}});
  g.back().relu = g.back().pool = true;
  g.push_back({"Winograd, pads 1", 2, 16, 32, 1, {1, 10, 9}, {1, 3, 3}});
  g.back().pad_begin = g.back().pad_end = {0, 1, 1};
  // The activations the optimizer fuses besides Relu (MobileNet's ReLU6 and HardSwish,
  // EfficientNet's SiLU); a monotone one also with a fused pool.
  g.push_back({"depthwise, clip 0..6 (ReLU6)", 2, 16, 16, 16, {1, 10, 10}, {1, 3, 3}});
  g.back().pad_begin = g.back().pad_end = {0, 1, 1};
  g.back().activation = clip(0.f, 0.5f);  // tight bounds: values in [-1, 1] reach them
  g.push_back({"1x1, swish", 2, 24, 8, 1, {1, 7, 7}, {1, 1, 1}});
  g.back().activation = of_kind(ConvActivation::Kind::kSwish);
  // EfficientNet's depthwise layers: SiLU after a strided depthwise convolution.
  g.push_back({"depthwise, strides 2, swish", 2, 32, 32, 32, {1, 13, 12}, {1, 3, 3}, {1, 2, 2}});
  g.back().pad_begin = g.back().pad_end = {0, 1, 1};
  g.back().activation = of_kind(ConvActivation::Kind::kSwish);
  g.push_back({"strides 2, hardswish", 2, 8, 16, 1, {1, 11, 11}, {1, 3, 3}, {1, 2, 2}});
  g.back().activation = of_kind(ConvActivation::Kind::kHardSwish);
  g.push_back({"clip, pool", 2, 3, 16, 1, {1, 12, 11}, {1, 3, 3}});
  g.back().activation = clip(-0.2f, 0.3f);
  g.back().pool = true;
  // Pads wider than a band of rows: a band would read padding alone, so one image is not
  // cut into bands (the geometries above are, on two or three threads).
  g.push_back({"1x1, pads wider than a band", 2, 4, 8, 1, {1, 1, 5}, {1, 1, 1}});
  g.back().pad_begin = g.back().pad_end = {0, 3, 0};
  return g;
}

struct Problem {
  ConvPlan plan;
  std::vector<float> x, weights, bias, expected;
};

Window window_of(const Geometry& g) {
  Window w;
  w.spatial = g.spatial;
  for (int d = 0; d < 3; ++d) {
    w.in[d] = g.in[d];
    w.kernel[d] = g.kernel[d];
    w.stride[d] = g.stride[d];
    w.dilation[d] = g.dilation[d];
    w.pad_begin[d] = g.pad_begin[d];
    w.pad_end[d] = g.pad_end[d];
    const int64_t span = (g.kernel[d] - 1) * g.dilation[d] + 1;
    w.out[d] = (g.in[d] + g.pad_begin[d] + g.pad_end[d] - span) / g.stride[d] + 1;
  }
  return w;
}

// The definition, one output element at a time.
std::vector<float> reference(const ConvPlan& p) {
  const Window& w = p.w;
  std::vector<float> full(static_cast<std::size_t>(p.batch * p.maps * w.out_size()));
  std::size_t o = 0;
  for (int64_t n = 0; n < p.batch; ++n) {
    for (int64_t m = 0; m < p.maps; ++m) {
      const int64_t g = m / p.m_group;
      for (int64_t od = 0; od < w.out[0]; ++od) {
        for (int64_t oh = 0; oh < w.out[1]; ++oh) {
          for (int64_t ow = 0; ow < w.out[2]; ++ow) {
            double sum = p.bias ? p.bias[m] : 0.0;
            for (int64_t c = 0; c < p.c_group; ++c) {
              for (int64_t kd = 0; kd < w.kernel[0]; ++kd) {
                for (int64_t kh = 0; kh < w.kernel[1]; ++kh) {
                  for (int64_t kw = 0; kw < w.kernel[2]; ++kw) {
                    const int64_t id = od * w.stride[0] - w.pad_begin[0] + kd * w.dilation[0];
                    const int64_t ih = oh * w.stride[1] - w.pad_begin[1] + kh * w.dilation[1];
                    const int64_t iw = ow * w.stride[2] - w.pad_begin[2] + kw * w.dilation[2];
                    if (id < 0 || id >= w.in[0] || ih < 0 || ih >= w.in[1] || iw < 0 ||
                        iw >= w.in[2]) {
                      continue;
                    }
                    const int64_t ci = g * p.c_group + c;
                    sum += double{p.x[((n * p.channels + ci) * w.in[0] + id) * w.in[1] * w.in[2] +
                                      ih * w.in[2] + iw]} *
                           p.weights[((m * p.c_group + c) * w.kernel[0] + kd) * w.kernel[1] *
                                         w.kernel[2] +
                                     kh * w.kernel[2] + kw];
                  }
                }
              }
            }
            full[o++] = p.activation.apply(static_cast<float>(sum));
          }
        }
      }
    }
  }
  if (!p.pool2x2) return full;
  const int64_t ph = w.out[1] / 2, pw = w.out[2] / 2;
  std::vector<float> pooled;
  for (int64_t map = 0; map < p.batch * p.maps; ++map) {
    const float* src = full.data() + map * w.out[1] * w.out[2];
    for (int64_t r = 0; r < ph; ++r) {
      for (int64_t c = 0; c < pw; ++c) {
        float best = -std::numeric_limits<float>::infinity();
        for (int64_t i = 0; i < 2; ++i) {
          for (int64_t j = 0; j < 2; ++j)
            best = std::max(best, src[(2 * r + i) * w.out[2] + 2 * c + j]);
        }
        pooled.push_back(best);
      }
    }
  }
  return pooled;
}

// Each image's [C, pixels] data as [pixels, C] (channel-last), or back with the two swapped.
std::vector<float> transposed(const std::vector<float>& v, int64_t images, int64_t rows,
                              int64_t cols) {
  std::vector<float> t(v.size());
  for (int64_t n = 0; n < images; ++n) {
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) {
        t[static_cast<std::size_t>((n * cols + c) * rows + r)] =
            v[static_cast<std::size_t>((n * rows + r) * cols + c)];
      }
    }
  }
  return t;
}

void fill_random(std::vector<float>& v, std::mt19937& rng) {
  std::uniform_real_distribution<float> uniform(-1.f, 1.f);
  for (auto& e : v) e = uniform(rng);
}

Problem make_problem(const Geometry& g, int64_t batch, std::mt19937& rng) {
  Problem pr;
  ConvPlan& p = pr.plan;
  p.w = window_of(g);
  p.batch = batch;
  p.channels = g.channels;
  p.maps = g.maps;
  p.group = g.group;
  p.activation = g.relu ? of_kind(ConvActivation::Kind::kRelu) : g.activation;
  p.pool2x2 = g.pool;
  complete_plan(p);
  pr.x.resize(static_cast<std::size_t>(batch * g.channels * p.w.in_size()));
  pr.weights.resize(static_cast<std::size_t>(g.maps * p.c_group * p.w.kernel_size()));
  fill_random(pr.x, rng);
  fill_random(pr.weights, rng);
  if (g.bias) {
    pr.bias.resize(static_cast<std::size_t>(g.maps));
    fill_random(pr.bias, rng);
  }
  p.x = pr.x.data();
  p.weights = pr.weights.data();
  p.bias = g.bias ? pr.bias.data() : nullptr;
  pr.expected = reference(p);
  return pr;
}

using testing::expect_close;

// A graph holding one Conv node whose W is (or is not) a constant, for its state.
std::shared_ptr<KernelState> conv_state(bool constant_weights, bool winograd = false) {
  Graph graph;
  graph.values.resize(3);
  if (constant_weights) graph.values[1].constant = Tensor{};
  Node node;
  node.op_type = "Conv";
  node.inputs = {0, 1};
  node.outputs = {2};
  return prepare_onednn_conv(node, graph, KernelOptions{.conv_winograd = winograd});
}

std::vector<float> run_onednn(const ConvPlan& plan, KernelState* state, ThreadPool& threads,
                              std::size_t size) {
  std::vector<float> y(size, std::numeric_limits<float>::quiet_NaN());
  ConvPlan p = plan;
  p.y = y.data();
  EXPECT_TRUE(run_onednn_conv(p, state, threads)) << "oneDNN did not take this convolution";
  return y;
}

TEST(Conv, BothPathsMatchTheDefinitionOnEveryGeometry) {
  std::mt19937 rng(7);
  ThreadPool one(1), two(2), three(3);
  for (const Geometry& g : geometries()) {
    // 37 images: whole slices (of 4 to 16 images, by geometry) and single images after.
    // One image on two or three threads: cut into bands of rows.
    for (int64_t batch : {1, 2, 5, 37}) {
      Problem pr = make_problem(g, batch, rng);
      for (ThreadPool* threads : {&one, &two, &three}) {
        const std::string what = g.name + ", batch " + std::to_string(batch) + ", " +
                                 std::to_string(threads->size()) + " threads";
        std::vector<float> y(pr.expected.size(), std::numeric_limits<float>::quiet_NaN());
        ConvPlan p = pr.plan;
        p.y = y.data();
        run_im2col_conv(p, *threads);
        expect_close(y, pr.expected, "im2col, " + what);

        auto kept = conv_state(true);
        // Twice: the second run reuses the primitives and packed weights.
        for (int run = 0; run < 2; ++run) {
          expect_close(run_onednn(pr.plan, kept.get(), *threads, pr.expected.size()), pr.expected,
                       "oneDNN, constant W, run " + std::to_string(run) + ", " + what);
        }
        expect_close(run_onednn(pr.plan, nullptr, *threads, pr.expected.size()), pr.expected,
                     "oneDNN, no state, " + what);
        // Winograd allowed (KernelOptions::conv_winograd), with and without a state.
        auto winograd = conv_state(true, true);
        expect_close(run_onednn(pr.plan, winograd.get(), *threads, pr.expected.size()), pr.expected,
                     "oneDNN, Winograd allowed, " + what);
        ConvPlan allowed = pr.plan;
        allowed.winograd = true;
        expect_close(run_onednn(allowed, nullptr, *threads, pr.expected.size()), pr.expected,
                     "oneDNN, Winograd allowed, no state, " + what);

        // X, Y or both channel-last, through the same state: primitives made for one
        // order must not serve another.
        const std::vector<float> x_last = transposed(pr.x, batch, g.channels, pr.plan.w.in_size());
        const std::vector<float> expected_last =
            transposed(pr.expected, batch, g.maps, pr.plan.y_size);
        for (auto [x_cl, y_cl] : {std::pair{true, false}, {false, true}, {true, true}}) {
          const std::string order = std::string(x_cl ? "X" : "") + (x_cl && y_cl ? "+" : "") +
                                    (y_cl ? "Y" : "") + " channel-last, " + what;
          ConvPlan q = pr.plan;
          q.x_channels_last = x_cl;
          q.y_channels_last = y_cl;
          if (x_cl) q.x = x_last.data();
          const std::vector<float>& want = y_cl ? expected_last : pr.expected;
          expect_close(run_onednn(q, kept.get(), *threads, want.size()), want, "oneDNN, " + order);
          expect_close(run_onednn(q, winograd.get(), *threads, want.size()), want,
                       "oneDNN, Winograd allowed, " + order);
          std::vector<float> y_im2col(want.size(), std::numeric_limits<float>::quiet_NaN());
          q.y = y_im2col.data();
          run_im2col_conv(q, *threads);
          expect_close(y_im2col, want, "im2col, " + order);
        }
      }
    }
  }
}

// So that the geometries above cover it: one image on two or three threads is cut into
// a band of rows per thread, unless a pool is fused (it pairs rows) or a band would read
// padding alone; channel-last X or Y too.
TEST(Conv, OneImageIsCutIntoABandOfRowsPerThread) {
  std::mt19937 rng(3);
  for (const Geometry& g : geometries()) {
    ConvPlan plan = make_problem(g, 1, rng).plan;
    const bool whole = g.pool || g.name.find("pads wider") != std::string::npos;
    for (int threads : {2, 3}) {
      for (bool channels_last : {false, true}) {
        plan.x_channels_last = plan.y_channels_last = channels_last;
        EXPECT_EQ(onednn_conv_bands(plan, threads), whole ? 1 : threads)
            << g.name << ", " << threads << " threads" << (channels_last ? ", channel-last" : "");
      }
    }
    EXPECT_EQ(onednn_conv_bands(plan, 1), 1) << g.name;
  }
}

// So that the geometries above cover it: when allowed, Winograd runs those named for it,
// and never a convolution it does not fit (strides, dilations, groups, other kernels or
// ranks); when not allowed, nothing.
TEST(Conv, WinogradRunsThe3x3ConvolutionsItFitsWhenAllowed) {
  if (dnnl::get_effective_cpu_isa() < dnnl::cpu_isa::avx512_core) {
    GTEST_SKIP() << "oneDNN has Winograd convolutions for AVX-512 CPUs only";
  }
  std::mt19937 rng(3);
  for (const Geometry& g : geometries()) {
    ConvPlan plan = make_problem(g, 8, rng).plan;
    EXPECT_EQ(onednn_conv_implementation(plan).find("wino"), std::string::npos) << g.name;
    plan.winograd = true;
    const bool fits = g.spatial == 2 && g.group == 1 && g.kernel[1] == 3 && g.kernel[2] == 3 &&
                      g.stride == std::array<int64_t, 3>{1, 1, 1} &&
                      g.dilation == std::array<int64_t, 3>{1, 1, 1};
    const bool winograd = onednn_conv_implementation(plan).find("wino") != std::string::npos;
    if (g.name.starts_with("Winograd")) {
      EXPECT_TRUE(winograd) << g.name;
    }
    if (!fits) {
      EXPECT_FALSE(winograd) << g.name;
    }
  }
}

TEST(Conv, WeightsThatAreNotConstantAreReadOnEveryRun) {
  std::mt19937 rng(11);
  ThreadPool threads(2);
  const Geometry g = geometries()[0];
  Problem pr = make_problem(g, 9, rng);
  auto state = conv_state(false);
  expect_close(run_onednn(pr.plan, state.get(), threads, pr.expected.size()), pr.expected,
               "first weights");
  fill_random(pr.weights, rng);  // same buffer, new values: a cached copy would be stale
  const std::vector<float> expected = reference(pr.plan);
  ASSERT_NE(expected, pr.expected);
  expect_close(run_onednn(pr.plan, state.get(), threads, expected.size()), expected,
               "second weights");
}

TEST(Conv, WeightsThatAreNotConstantMayChangeShapeBetweenRuns) {
  // W is a graph input: one run may bring 3×3 kernels for 16 maps, the next 5×5 for 6
  // over the same X. Primitives made for the first must not serve the second.
  std::mt19937 rng(13);
  ThreadPool threads(1);
  auto state = conv_state(false);
  Geometry g = geometries()[0];
  for (auto [maps, k] : {std::pair<int64_t, int64_t>{16, 3}, {6, 5}, {16, 3}}) {
    g.maps = maps;
    g.kernel = {1, k, k};
    Problem pr = make_problem(g, 4, rng);
    expect_close(run_onednn(pr.plan, state.get(), threads, pr.expected.size()), pr.expected,
                 std::to_string(maps) + " maps of " + std::to_string(k) + "x" + std::to_string(k));
  }
}

TEST(Conv, InstancesSharingANodeStateRunConcurrently) {
  // Two instances of one model share the node's state: both make primitives for new batch
  // sizes and pack W at the same time, then run on them together.
  std::mt19937 rng(5);
  const Geometry g = geometries()[1];
  auto state = conv_state(true);
  std::vector<Problem> problems;
  for (int64_t batch : {3, 8, 16, 21}) problems.push_back(make_problem(g, batch, rng));
  for (auto& pr : problems) pr.plan.weights = problems[0].weights.data();  // one W for all
  for (auto& pr : problems) pr.expected = reference(pr.plan);
  auto instance = [&](int first) {
    ThreadPool threads(1);
    for (int round = 0; round < 20; ++round) {
      const Problem& pr = problems[static_cast<std::size_t>((first + round) % 4)];
      expect_close(run_onednn(pr.plan, state.get(), threads, pr.expected.size()), pr.expected,
                   "instance " + std::to_string(first));
    }
  };
  std::thread a(instance, 0), b(instance, 1);
  a.join();
  b.join();
}

// Graphs of Convs for the hand-off between them: X [N, 3, 12, 12] → conv "a" (3×3, 8 maps,
// Relu) → "mid" → conv "b" (3×3, 6 maps) → Y, with W and B constants. `mid_is_output`
// makes "mid" a graph output too; `also_relu` gives it a second reader (a Relu).
struct ConvChain {
  Graph graph;
  int mid = -1;
};

ConvChain conv_chain(bool mid_is_output, bool also_relu) {
  testing::GraphBuilder g;
  const auto kernel = testing::ints_attribute("kernel_shape", {3, 3});
  const int x = g.value("x", {-1, 3, 12, 12});
  const int wa = g.value("wa", {8, 3, 3, 3}, true), ba = g.value("ba", {8}, true);
  const int mid = g.value("mid", {-1, 8, 10, 10});
  const int wb = g.value("wb", {6, 8, 3, 3}, true), bb = g.value("bb", {6}, true);
  const int y = g.value("y", {-1, 6, 8, 8});
  g.node("Conv", {x, wa, ba}, mid, {kernel, testing::int_attribute("_relu", 1)});
  g.node("Conv", {mid, wb, bb}, y, {kernel});
  g.graph.inputs = {x};
  g.graph.outputs = {y};
  if (mid_is_output) g.graph.outputs.push_back(mid);
  if (also_relu) {
    const int r = g.value("r", {-1, 8, 10, 10});
    g.node("Relu", {mid}, r);
    g.graph.outputs.push_back(r);
  }
  return {std::move(g.graph), mid};
}

TEST(Conv, HandsOffChannelLastOnlyWhenEveryReaderTakesIt) {
  auto chosen = [](ConvChain chain, int value) {
    choose_layouts(chain.graph);
    return chain.graph.values[static_cast<std::size_t>(value)].channels_last;
  };
  EXPECT_TRUE(chosen(conv_chain(false, false), 3));
  EXPECT_FALSE(chosen(conv_chain(true, false), 3)) << "graph output";
  EXPECT_FALSE(chosen(conv_chain(false, true), 3)) << "read by a Relu whose output is the graph's";
  ConvChain as_weights = conv_chain(false, false);
  std::swap(as_weights.graph.nodes[1].inputs[0], as_weights.graph.nodes[1].inputs[1]);
  EXPECT_FALSE(chosen(as_weights, 3)) << "read as W";
  EXPECT_FALSE(chosen(conv_chain(false, false), 0)) << "graph input";
  EXPECT_FALSE(chosen(conv_chain(false, false), 6)) << "graph output";
}

// The chain run with the hand-off (states from prepare_kernels) and without (no states):
// the same Y, on batches that make whole slices and single images, 1 and 2 threads; and a
// "mid" that is also a graph output or read by a Relu comes out in ONNX's order.
TEST(Conv, ChainedConvsGiveTheSameResultsWithTheHandOff) {
  for (auto [mid_is_output, also_relu] : {std::pair{false, false}, {true, false}, {false, true}}) {
    ConvChain plain = conv_chain(mid_is_output, also_relu);
    auto handed = std::make_shared<Graph>(plain.graph);
    choose_layouts(*handed);
    prepare_kernels(*handed);
    EXPECT_EQ(conv_output_channels_last(handed->nodes[0].state.get()),
              !mid_is_output && !also_relu);
    auto unprepared = std::make_shared<Graph>(plain.graph);
    testing::expect_same_results(handed, unprepared,
                                 {{1, 3, 12, 12}, {7, 3, 12, 12}, {40, 3, 12, 12}});
  }
}

}  // namespace
}  // namespace mg::cpu
