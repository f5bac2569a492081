// Load-time graph work on real files: fusion, Identity/Dropout removal, constant folding,
// and buffer reuse by the executor's memory plan.
#include "plugins/cpu/optimizer.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include "plugins/cpu/executor.h"
#include "plugins/cpu/kernels/conv_onednn.h"
#include "plugins/cpu/kernels/kernels.h"
#include "plugins/cpu/onnx_loader.h"
#include "tests/plugins/cpu/cpu_test_support.h"
#include "tests/plugins/cpu/graph_builder.h"

namespace mg::cpu {
namespace {

Graph load_example(const std::string& name) {
  std::string bytes = testing::read_file(MG_EXAMPLES_DIR "/models/" + name + ".onnx");
  return load_onnx(testing::bytes_of(bytes), "");
}

std::vector<std::string> op_types(const Graph& graph) {
  std::vector<std::string> ops;
  for (const auto& node : graph.nodes) ops.push_back(node.op_type);
  return ops;
}

TEST(Optimizer, MlpBecomesThreeGemmsWithFusedBiasAndRelu) {
  Graph graph = load_example("fashion-mlp");
  OptimizeStats stats = optimize(graph);
  EXPECT_EQ(op_types(graph),
            (std::vector<std::string>{"Flatten", "Gemm", "Gemm", "Gemm", "Softmax"}));
  EXPECT_EQ(graph.nodes[1].attr_int("_relu", 0), 1);
  EXPECT_EQ(graph.nodes[2].attr_int("_relu", 0), 1);
  EXPECT_EQ(graph.nodes[3].attr_int("_relu", 0), 0);
  EXPECT_GE(stats.fused, 2);
}

TEST(Optimizer, GemmWeightsGivenTransposedAreStoredTransposedOnce) {
  Graph graph = load_example("fashion-mlp");
  const Graph original = graph;
  OptimizeStats stats = optimize(graph);
  EXPECT_EQ(stats.transposed, 3);  // PyTorch exports every Linear with transB=1
  const Node& first = graph.nodes[1];
  ASSERT_EQ(first.op_type, "Gemm");
  EXPECT_EQ(first.attr_int("transB", 0), 0);
  const Tensor& b = *graph.values[static_cast<std::size_t>(first.inputs[1])].constant;
  ASSERT_EQ(b.shape, (Shape{784, 64}));
  // Element (k, n) of the stored B is element (n, k) of the exported one.
  const Tensor& exported = *original.values[static_cast<std::size_t>(first.inputs[1])].constant;
  ASSERT_EQ(exported.shape, (Shape{64, 784}));
  for (int64_t k : {0, 1, 500, 783}) {
    for (int64_t n : {0, 7, 63}) {
      EXPECT_EQ(b.data<const float>()[k * 64 + n], exported.data<const float>()[n * 784 + k]);
    }
  }
}

TEST(Optimizer, CnnFusesReluIntoConvAndGemm) {
  Graph graph = load_example("fashion-cnn");
  optimize(graph);
  int fused = 0;
  for (const auto& node : graph.nodes) {
    EXPECT_NE(node.op_type, "Relu") << "an unfused Relu remains";
    fused += node.attr_int("_relu", 0) != 0;
  }
  EXPECT_EQ(fused, 3);  // two Conv, one Gemm
}

TEST(Optimizer, CnnPoolsInsideItsConvolutions) {
  Graph graph = load_example("fashion-cnn");
  optimize(graph);
  int pooled = 0;
  for (const auto& node : graph.nodes) {
    EXPECT_NE(node.op_type, "MaxPool") << "an unfused MaxPool remains";
    pooled += node.attr_int("_maxpool2x2", 0) != 0;
  }
  EXPECT_EQ(pooled, 2);
}

// Its first convolution's pooled output goes to the second alone: passed channel-last,
// with no reorder to NCHW and back between them. The second's goes to Flatten: NCHW.
TEST(Optimizer, CnnHandsItsFirstConvolutionToTheSecondChannelLast) {
  Graph graph = load_example("fashion-cnn");
  optimize(graph);
  prepare_kernels(graph);
  std::vector<bool> channels_last;
  for (const auto& node : graph.nodes) {
    if (node.op_type == "Conv")
      channels_last.push_back(conv_output_channels_last(node.state.get()));
  }
  EXPECT_EQ(channels_last, (std::vector<bool>{true, false}));
}

// Conv (+ Relu) → MaxPool built by hand: X [64, 3, 31, 30] with a 3×3 kernel gives
// 29×28 maps, an odd height the pool's floor mode cuts; 64 images make several chunks,
// run on two threads. The fused result must equal the separate kernels'.
Graph conv_pool_graph(bool relu, int64_t ceil_mode, std::vector<int64_t> pads) {
  testing::GraphBuilder g;
  Tensor w = Tensor::owned(ElemType::kFloat, {4, 3, 3, 3}),
         b = Tensor::owned(ElemType::kFloat, {4});
  for (int64_t i = 0; i < w.size(); ++i)
    w.data<float>()[i] = static_cast<float>((i * 37) % 11) / 7 - 0.7f;
  for (int64_t i = 0; i < 4; ++i) b.data<float>()[i] = 0.3f * static_cast<float>(i) - 0.5f;
  const int x = g.value("x", {64, 3, 31, 30}), wid = g.value("w", w.shape),
            bid = g.value("b", b.shape), conv_out = g.value("conv", {}),
            relu_out = g.value("relu", {}), y = g.value("y", {});
  g.graph.values[static_cast<std::size_t>(wid)].constant = std::move(w);
  g.graph.values[static_cast<std::size_t>(bid)].constant = std::move(b);
  g.node("Conv", {x, wid, bid}, conv_out, {testing::ints_attribute("kernel_shape", {3, 3})});
  if (relu) g.node("Relu", {conv_out}, relu_out);
  g.node(
      "MaxPool", {relu ? relu_out : conv_out}, y,
      {testing::ints_attribute("kernel_shape", {2, 2}), testing::ints_attribute("strides", {2, 2}),
       testing::ints_attribute("pads", std::move(pads)),
       testing::int_attribute("ceil_mode", ceil_mode)});
  g.graph.inputs = {x};
  g.graph.outputs = {y};
  return std::move(g.graph);
}

TEST(Optimizer, FusedMaxPoolMatchesTheSeparateKernels) {
  Tensor input = Tensor::owned(ElemType::kFloat, {64, 3, 31, 30});
  for (int64_t i = 0; i < input.size(); ++i)
    input.data<float>()[i] = static_cast<float>((i * 7919) % 201) / 100 - 1;
  for (const bool relu : {true, false}) {
    Graph plain = conv_pool_graph(relu, 0, {0, 0, 0, 0});
    Graph fused = conv_pool_graph(relu, 0, {0, 0, 0, 0});
    optimize(fused);
    ASSERT_EQ(op_types(fused), std::vector<std::string>{"Conv"});
    Executor separate(std::make_shared<Graph>(std::move(plain)), 1);
    Executor together(std::make_shared<Graph>(std::move(fused)), 2);
    const auto expected = separate.run({input});
    const auto actual = together.run({input});
    ASSERT_EQ(actual[0].shape, (Shape{64, 4, 14, 14}));
    ASSERT_EQ(actual[0].shape, expected[0].shape);
    for (int64_t i = 0; i < expected[0].size(); ++i) {
      ASSERT_NEAR(actual[0].data<float>()[i], expected[0].data<float>()[i], 1e-5)
          << "relu " << relu << " at " << i;
    }
  }
}

// No images: an empty result, fused or not (the chunking must not divide by zero).
TEST(Optimizer, FusedConvOfAnEmptyBatchIsEmpty) {
  Graph fused = conv_pool_graph(true, 0, {0, 0, 0, 0});
  optimize(fused);
  Executor executor(std::make_shared<Graph>(std::move(fused)), 2);
  const auto out = executor.run({Tensor::owned(ElemType::kFloat, {0, 3, 31, 30})});
  EXPECT_EQ(out[0].shape, (Shape{0, 4, 14, 14}));
}

TEST(Optimizer, OtherMaxPoolsStayUnfused) {
  for (auto [ceil_mode, pads] :
       {std::pair<int64_t, std::vector<int64_t>>{1, {0, 0, 0, 0}}, {0, {1, 1, 1, 1}}}) {
    Graph graph = conv_pool_graph(true, ceil_mode, pads);
    optimize(graph);
    EXPECT_EQ(op_types(graph), (std::vector<std::string>{"Conv", "MaxPool"}));
  }
}

// Constant subgraphs (here: Constant → Mul → Add feeding a MatMul's weights) fold away,
// and Identity / Dropout disappear.
TEST(Optimizer, FoldsConstantsAndRemovesIdentityAndDropout) {
  Graph graph;
  auto add_value = [&](const std::string& name, std::optional<Tensor> constant = std::nullopt) {
    Value v{name};
    v.type = ElemType::kFloat;
    v.shape = {2, 2};
    v.shape_known = true;
    v.constant = std::move(constant);
    graph.values.push_back(std::move(v));
    return static_cast<int>(graph.values.size() - 1);
  };
  Tensor w = Tensor::owned(ElemType::kFloat, {2, 2});
  for (int i = 0; i < 4; ++i) w.data<float>()[i] = static_cast<float>(i);
  int x = add_value("x"), c = add_value("c", w), doubled = add_value("doubled"),
      ident = add_value("ident"), dropped = add_value("dropped"), y = add_value("y");
  const auto& ops = OpTable::instance();
  auto node = [&](const std::string& op, std::vector<int> in, int out) {
    Node n;
    n.name = op;
    n.op_type = op;
    n.opset = 13;
    n.kernel = ops.find(op)->kernel;
    n.inputs = std::move(in);
    n.outputs = {out};
    graph.nodes.push_back(std::move(n));
  };
  node("Add", {c, c}, doubled);       // constant: folds
  node("Identity", {x}, ident);       // removed
  node("Dropout", {ident}, dropped);  // removed
  node("MatMul", {dropped, doubled}, y);
  graph.inputs = {x};
  graph.outputs = {y};
  OptimizeStats stats = optimize(graph);
  EXPECT_EQ(stats.folded, 1);
  EXPECT_EQ(stats.removed, 2);
  ASSERT_EQ(op_types(graph), std::vector<std::string>{"MatMul"});
  EXPECT_EQ(graph.nodes[0].inputs, (std::vector<int>{x, doubled}));
  ASSERT_TRUE(graph.values[static_cast<std::size_t>(doubled)].constant);
  EXPECT_EQ(graph.values[static_cast<std::size_t>(doubled)].constant->data<float>()[3], 6.f);

  Executor executor(std::make_shared<Graph>(std::move(graph)), 1);
  Tensor input = Tensor::owned(ElemType::kFloat, {2, 2});
  for (int i = 0; i < 4; ++i) input.data<float>()[i] = 1.f;
  auto out = executor.run({input});
  EXPECT_EQ(out[0].data<float>()[0], 0.f + 4.f);  // [1 1] · [0 4]ᵀ
}

// The memory plan releases each intermediate after its last use, so the buffers the CNN
// holds after a run are far fewer than the sum of all its intermediates.
TEST(Executor, ReusesIntermediateBuffers) {
  auto graph = std::make_shared<Graph>(load_example("fashion-cnn"));
  optimize(*graph);
  Executor executor(graph, 1);
  Tensor input = Tensor::owned(ElemType::kFloat, {8, 1, 28, 28});
  auto out = executor.run({input});
  ASSERT_EQ(out[0].shape, (Shape{8, 10}));
  const std::size_t pooled = executor.pooled_bytes();
  out.clear();
  executor.run({input});  // a second run of the same shape allocates nothing new
  EXPECT_EQ(executor.pooled_bytes(), pooled);
  // All intermediates at once would be: conv1 8·32·26·26, pool1 8·32·13·13, conv2
  // 8·64·11·11, pool2 8·64·5·5, fc 8·64, out 8·10 floats, plus im2col scratch.
  const std::size_t everything =
      4 * (8 * 32 * 26 * 26 + 8 * 32 * 13 * 13 + 8 * 64 * 11 * 11 + 8 * 64 * 5 * 5 + 8 * 64 +
           8 * 10 + 9 * 26 * 26 + 32 * 9 * 11 * 11);
  EXPECT_LT(pooled, everything);
  std::printf("pooled %zu bytes; all intermediates at once would be %zu\n", pooled, everything);
}

}  // namespace
}  // namespace mg::cpu

namespace mg::cpu {
namespace {

// X [1, 4, 6, 6] → Conv (3×3, pads 1) → `tail` nodes; the graph output is the last
// node's, plus `extra_output` when given.
Graph conv_then(const std::vector<std::pair<std::string, std::vector<std::string>>>& tail,
                int opset = 13, const std::string& extra_output = "") {
  onnx::ModelProto model;
  model.set_ir_version(8);
  model.add_opset_import()->set_version(opset);
  auto* g = model.mutable_graph();
  g->set_name("g");
  auto add_value = [](onnx::ValueInfoProto* v, const std::string& name, int rank) {
    v->set_name(name);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(onnx::TensorProto::FLOAT);
    const int64_t dims[4] = {1, 4, 6, 6};
    for (int d = 0; d < rank; ++d) t->mutable_shape()->add_dim()->set_dim_value(dims[d]);
  };
  add_value(g->add_input(), "x", 4);
  auto* w = g->add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : {4, 4, 3, 3}) w->add_dims(d);
  for (int i = 0; i < 144; ++i) w->add_float_data(static_cast<float>(i % 7) / 10 - 0.3f);
  for (const auto& [name, value] : {std::pair<std::string, float>{"lo", 0.f}, {"hi", 6.f}}) {
    auto* c = g->add_initializer();
    c->set_name(name);
    c->set_data_type(onnx::TensorProto::FLOAT);
    c->add_float_data(value);
  }
  auto* conv = g->add_node();
  conv->set_op_type("Conv");
  conv->add_input("x");
  conv->add_input("w");
  conv->add_output("c");
  auto* pads = conv->add_attribute();
  pads->set_name("pads");
  pads->set_type(onnx::AttributeProto::INTS);
  for (int i = 0; i < 4; ++i) pads->add_ints(1);
  std::string last = "c";
  int k = 0;
  for (const auto& [op, inputs] : tail) {
    auto* n = g->add_node();
    n->set_op_type(op);
    for (const auto& in : inputs) n->add_input(in);
    last = "t" + std::to_string(k++);
    n->add_output(last);
  }
  add_value(g->add_output(), last, 4);
  if (!extra_output.empty()) add_value(g->add_output(), extra_output, 4);
  const std::string bytes = model.SerializeAsString();
  return load_onnx(testing::bytes_of(bytes), "");
}

TEST(Optimizer, ConvAbsorbsReluSixHardSwishAndSilu) {
  Graph relu6 = conv_then({{"Clip", {"c", "lo", "hi"}}});
  optimize(relu6);
  ASSERT_EQ(op_types(relu6), std::vector<std::string>{"Conv"});
  const Attribute* bounds = relu6.nodes[0].attr("_clip");
  ASSERT_NE(bounds, nullptr);
  EXPECT_EQ(bounds->floats, (std::vector<float>{0.f, 6.f}));

  Graph old_clip = conv_then({{"Clip", {"c"}}}, 10);  // bounds as attributes before 11
  optimize(old_clip);
  EXPECT_EQ(op_types(old_clip), std::vector<std::string>{"Conv"});

  Graph hard_swish = conv_then({{"HardSwish", {"c"}}}, 14);
  optimize(hard_swish);
  EXPECT_EQ(op_types(hard_swish), std::vector<std::string>{"Conv"});
  EXPECT_EQ(hard_swish.nodes[0].attr_int("_hardswish", 0), 1);

  Graph silu = conv_then({{"Sigmoid", {"c"}}, {"Mul", {"t0", "c"}}});
  optimize(silu);
  EXPECT_EQ(op_types(silu), std::vector<std::string>{"Conv"});
  EXPECT_EQ(silu.nodes[0].attr_int("_swish", 0), 1);
}

TEST(Optimizer, SiluStaysWhenTheSigmoidIsReadElsewhereOrTheMulIsNotXTimesSigmoidX) {
  Graph read_elsewhere = conv_then({{"Sigmoid", {"c"}}, {"Mul", {"t0", "c"}}}, 13, "t0");
  optimize(read_elsewhere);
  EXPECT_EQ(op_types(read_elsewhere), (std::vector<std::string>{"Conv", "Sigmoid", "Mul"}));
  Graph squared = conv_then({{"Sigmoid", {"c"}}, {"Mul", {"t0", "t0"}}, {"Add", {"t1", "c"}}});
  optimize(squared);
  EXPECT_EQ(op_types(squared), (std::vector<std::string>{"Conv", "Sigmoid", "Mul", "Add"}));
}

}  // namespace
}  // namespace mg::cpu

namespace mg::cpu {
namespace {

// X [2, 3, 4, 4] → BatchNormalization (constant parameters) → Relu, as DenseNet's blocks
// begin: the Relu is applied in the normalisation's own pass, with the same results.
TEST(Optimizer, BatchNormalizationAbsorbsTheReluAfterIt) {
  onnx::ModelProto model;
  model.set_ir_version(8);
  model.add_opset_import()->set_version(15);
  auto* g = model.mutable_graph();
  g->set_name("g");
  auto add_value = [](onnx::ValueInfoProto* v, const std::string& name) {
    v->set_name(name);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(onnx::TensorProto::FLOAT);
    for (int64_t d : {2, 3, 4, 4}) t->mutable_shape()->add_dim()->set_dim_value(d);
  };
  add_value(g->add_input(), "x");
  const std::vector<std::pair<std::string, std::vector<float>>> params{
      {"scale", {1.5f, -0.5f, 2.f}},
      {"b", {0.1f, 0.2f, -0.3f}},
      {"mean", {0.f, 1.f, -1.f}},
      {"var", {1.f, 0.25f, 4.f}}};
  auto* bn = g->add_node();
  bn->set_op_type("BatchNormalization");
  bn->add_input("x");
  for (const auto& [name, values] : params) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    t->add_dims(3);
    for (float v : values) t->add_float_data(v);
    bn->add_input(name);
  }
  bn->add_output("n");
  auto* relu = g->add_node();
  relu->set_op_type("Relu");
  relu->add_input("n");
  relu->add_output("y");
  add_value(g->add_output(), "y");
  const std::string bytes = model.SerializeAsString();
  auto graph = std::make_shared<Graph>(load_onnx(testing::bytes_of(bytes), ""));
  optimize(*graph);
  ASSERT_EQ(op_types(*graph), std::vector<std::string>{"BatchNormalization"});
  EXPECT_EQ(graph->nodes[0].attr_int("_relu", 0), 1);

  Tensor x = Tensor::owned(ElemType::kFloat, {2, 3, 4, 4});
  for (int64_t i = 0; i < x.size(); ++i) x.data<float>()[i] = static_cast<float>(i % 11) - 5.f;
  for (int threads : {1, 2}) {
    Executor executor(graph, threads);
    const std::vector<Tensor> y = executor.run({x});
    int zeros = 0;
    for (int64_t i = 0; i < x.size(); ++i) {
      const auto c = static_cast<std::size_t>(i / 16 % 3);
      const float a = params[0].second[c] / std::sqrt(params[3].second[c] + 1e-5f);
      const float want =
          std::max(0.f, (x.data<const float>()[i] - params[2].second[c]) * a + params[1].second[c]);
      ASSERT_NEAR(y[0].data<const float>()[i], want, 1e-5f) << "element " << i;
      zeros += want == 0.f;
    }
    EXPECT_GT(zeros, 0);  // the Relu had work to do
  }
}

}  // namespace
}  // namespace mg::cpu

namespace mg::cpu {
namespace {

// X → Pad (constant pads) → Relu → Y.
Graph padded_relu(std::vector<int64_t> pad_values) {
  testing::GraphBuilder b;
  const int x = b.value("x", {1, 2, 4, 4});
  Value pads{"pads"};
  pads.type = ElemType::kInt64;
  pads.shape = {8};
  pads.shape_known = true;
  Tensor t = Tensor::owned(ElemType::kInt64, {8});
  std::copy(pad_values.begin(), pad_values.end(), t.data<int64_t>());
  pads.constant = std::move(t);
  b.graph.values.push_back(std::move(pads));
  const int p = static_cast<int>(b.graph.values.size() - 1);
  const int padded = b.value("padded", {-1, -1, -1, -1});
  const int y = b.value("y", {-1, -1, -1, -1});
  b.node("Pad", {x, p}, padded);
  b.node("Relu", {padded}, y);
  b.graph.inputs = {x};
  b.graph.outputs = {y};
  return std::move(b.graph);
}

// A Pad of zeros copies its input (torch writes one before each of DenseNet's average
// pools, where it kept the whole network in channel-first order): bypassed. One that pads
// stays.
TEST(Optimizer, PadOfZerosIsBypassed) {
  Graph zeros = padded_relu({0, 0, 0, 0, 0, 0, 0, 0});
  const OptimizeStats stats = optimize(zeros);
  EXPECT_EQ(stats.removed, 1);
  ASSERT_EQ(op_types(zeros), std::vector<std::string>{"Relu"});
  EXPECT_EQ(zeros.nodes[0].inputs[0], zeros.inputs[0]);

  Graph pads = padded_relu({0, 0, 1, 0, 0, 0, 0, 1});
  optimize(pads);
  EXPECT_EQ(op_types(pads), (std::vector<std::string>{"Pad", "Relu"}));
}

// X → Neg → Concat(X, −X, X) on channels → BatchNormalization → Relu, as each DenseNet
// layer begins: when the normalisation alone reads the Concat, the Concat applies it (and
// the Relu) as it copies; the results are the three kernels'.
std::shared_ptr<Graph> concat_then_normalize(bool concat_is_an_output) {
  testing::GraphBuilder b;
  const int x = b.value("x", {-1, 2, -1, -1});
  const int negated = b.value("negated", {-1, 2, -1, -1});
  const int joined = b.value("joined", {-1, 6, -1, -1});
  std::vector<int> params;
  for (const char* name : {"scale", "bias", "mean", "var"})
    params.push_back(b.value(name, {6}, true));
  float* var = b.graph.values[static_cast<std::size_t>(params[3])].constant->data<float>();
  for (int c = 0; c < 6; ++c) var[c] = std::abs(var[c]) + 0.25f;
  const int normalized = b.value("normalized", {-1, 6, -1, -1});
  const int y = b.value("y", {-1, 6, -1, -1});
  b.node("Neg", {x}, negated);
  b.node("Concat", {x, negated, x}, joined, {testing::int_attribute("axis", 1)});
  b.node("BatchNormalization", {joined, params[0], params[1], params[2], params[3]}, normalized);
  b.node("Relu", {normalized}, y);
  b.graph.inputs = {x};
  b.graph.outputs = {y};
  if (concat_is_an_output) b.graph.outputs.push_back(joined);
  return std::make_shared<Graph>(std::move(b.graph));
}

TEST(Optimizer, ConcatAbsorbsTheBatchNormalizationAfterIt) {
  auto plain = concat_then_normalize(false);
  auto fused = std::make_shared<Graph>(*plain);
  optimize(*fused);
  ASSERT_EQ(op_types(*fused), (std::vector<std::string>{"Neg", "Concat"}));
  const Node& concat = fused->nodes[1];
  ASSERT_NE(concat.attr("_scale"), nullptr);
  EXPECT_EQ(concat.attr("_scale")->floats.size(), 6u);
  EXPECT_EQ(concat.attr_int("_relu", 0), 1);
  testing::expect_same_results(fused, plain, {{2, 2, 3, 3}, {1, 2, 5, 4}});

  // The Concat read elsewhere too (here: a graph output): nothing is fused into it.
  auto read_elsewhere = concat_then_normalize(true);
  optimize(*read_elsewhere);
  EXPECT_EQ(op_types(*read_elsewhere),
            (std::vector<std::string>{"Neg", "Concat", "BatchNormalization"}));
}

}  // namespace
}  // namespace mg::cpu
