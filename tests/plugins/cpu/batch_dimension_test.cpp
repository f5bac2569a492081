// Which models the CPU backend batches when their config does not say: those whose
// dimension 0 is provably a batch (every node keeps its rows apart). The seed models are;
// graphs that mix, reduce, reorder or reshape dimension 0 are not, nor a model with a
// fixed batch. (The recurrent models of the zoo, laid out time-major with a dynamic
// dimension 0, are covered by cpu_model_zoo: batched, their requests are refused.)
#include "plugins/cpu/batch_dimension.h"

#include <gtest/gtest.h>

#include "plugins/cpu/cpu_model.h"
#include "tests/plugins/cpu/cpu_test_support.h"
#include "tests/plugins/cpu/graph_builder.h"

namespace mg::cpu {
namespace {

using testing::GraphBuilder;

TEST(BatchDimension, TheSeedModelsBatchUnlessTheirConfigSaysNot) {
  for (const char* name : {"fashion-mlp", "fashion-cnn", "text-classifier"}) {
    const std::string bytes =
        testing::read_file(std::string(MG_EXAMPLES_DIR "/models/") + name + ".onnx");
    EXPECT_EQ(testing::load_model(bytes)->metadata().max_batch_size, kDefaultMaxBatch) << name;
    EXPECT_EQ(testing::load_model(bytes, R"({"max_batch_size": 0})")->metadata().max_batch_size, 0)
        << name;
    EXPECT_EQ(testing::load_model(bytes, R"({"max_batch_size": 8})")->metadata().max_batch_size, 8)
        << name;
  }
}

// The server's [backends.cpu] batch_by_default = false reaches the plugin as its backend
// config: a model without max_batch_size then stays unbatched; a model's own value still
// holds; a value of the wrong type fails the backend's start.
TEST(BatchDimension, TheBackendConfigCanTurnTheDefaultOff) {
  const auto plugin = std::filesystem::path(MG_PLUGIN_DIR) / "libmg_cpu.so";
  auto off = gateway::Backend::open(plugin, R"({"batch_by_default": false})");
  const std::string bytes = testing::read_file(MG_EXAMPLES_DIR "/models/fashion-cnn.onnx");
  auto load = [&](const std::string& config) {
    return gateway::Model::load(off, "test", testing::bytes_of(bytes), "", config);
  };
  EXPECT_EQ(load("{}")->metadata().max_batch_size, 0);
  EXPECT_EQ(load(R"({"max_batch_size": 8})")->metadata().max_batch_size, 8);
  auto on = gateway::Backend::open(plugin, R"({"batch_by_default": true})");
  EXPECT_EQ(gateway::Model::load(on, "test", testing::bytes_of(bytes), "", "{}")
                ->metadata()
                .max_batch_size,
            kDefaultMaxBatch);
  EXPECT_THROW(gateway::Backend::open(plugin, R"({"batch_by_default": 1})"), gateway::BackendError);
}

// x [rows, 4] → Gemm with constant weights → `last` → y; `rows` -1 is a dynamic batch.
struct Dense {
  GraphBuilder b;
  int x, h;
  explicit Dense(int64_t rows = -1) {
    x = b.value("x", {rows, 4});
    const int w = b.value("w", {4, 3}, true), bias = b.value("bias", {3}, true);
    h = b.value("h", {rows, 3});
    b.node("Gemm", {x, w, bias}, h);
    b.graph.inputs = {x};
  }
  // An INT64 constant (shapes, axes).
  int ints(const std::string& name, std::vector<int64_t> values) {
    Value v{name};
    v.type = ElemType::kInt64;
    v.shape = {static_cast<int64_t>(values.size())};
    v.shape_known = true;
    Tensor t = Tensor::owned(ElemType::kInt64, v.shape);
    for (std::size_t i = 0; i < values.size(); ++i) t.data<int64_t>()[i] = values[i];
    v.constant = std::move(t);
    b.graph.values.push_back(std::move(v));
    return static_cast<int>(b.graph.values.size() - 1);
  }
  // Ends the graph with `op` on h (and `more` inputs) into y of `shape`.
  bool then(const std::string& op, Shape shape, std::vector<Attribute> attributes = {},
            std::vector<int> more = {}) {
    const int y = b.value("y", shape);
    std::vector<int> in = {h};
    in.insert(in.end(), more.begin(), more.end());
    b.node(op, in, y, std::move(attributes));
    b.graph.outputs = {y};
    return rows_are_independent(b.graph);
  }
};

TEST(BatchDimension, RowwiseOpsKeepTheBatch) {
  EXPECT_TRUE(Dense().then("Softmax", {-1, 3}, {testing::int_attribute("axis", 1)}));
  EXPECT_TRUE(Dense().then("Relu", {-1, 3}));
  Dense reduce;
  EXPECT_TRUE(reduce.then("ReduceMean", {-1, 1}, {testing::ints_attribute("axes", {1})}));
  Dense keep;
  EXPECT_TRUE(keep.then("Reshape", {-1, 3, 1}, {}, {keep.ints("shape", {0, 3, 1})}));
  Dense infer;
  EXPECT_TRUE(infer.then("Reshape", {-1, 1, 3}, {}, {infer.ints("shape", {-1, 1, 3})}));
  Dense made;  // the shape made by a Constant node, as exporters write it
  Attribute shape_value;
  shape_value.name = "value";
  shape_value.kind = Attribute::Kind::kTensor;
  shape_value.t = Tensor::owned(ElemType::kInt64, {3});
  for (int64_t i = 0; i < 3; ++i)
    shape_value.t.data<int64_t>()[i] = std::vector<int64_t>{0, 3, 1}[i];
  const int shape = made.b.value("shape", {3});
  made.b.node("Constant", {}, shape, {shape_value});
  EXPECT_TRUE(made.then("Reshape", {-1, 3, 1}, {}, {shape}));
  Dense row_bias;
  EXPECT_TRUE(row_bias.then("Add", {-1, 3}, {}, {row_bias.b.value("c", {1, 3}, true)}));
}

TEST(BatchDimension, OpsThatMixOrMoveRowsDoNot) {
  EXPECT_FALSE(Dense().then("Softmax", {-1, 3}, {testing::int_attribute("axis", 0)}));
  EXPECT_FALSE(Dense().then("Transpose", {3, -1}, {testing::ints_attribute("perm", {1, 0})}));
  EXPECT_FALSE(Dense().then("ReduceMean", {1, 3}, {testing::ints_attribute("axes", {0})}));
  EXPECT_FALSE(Dense().then("ReduceMean", {1, 1}));  // no axes: all of them
  Dense flat;
  EXPECT_FALSE(flat.then("Reshape", {-1}, {}, {flat.ints("shape", {-1})}));
  Dense regroup;  // two rows of 3 become one of 6
  EXPECT_FALSE(regroup.then("Reshape", {-1, 6}, {}, {regroup.ints("shape", {-1, 6})}));
  Dense full;  // a constant as tall as a batch of 2: rows meet it by position
  EXPECT_FALSE(full.then("Add", {2, 3}, {}, {full.b.value("c", {2, 3}, true)}));
  EXPECT_FALSE(Dense().then("Shape", {2}));     // the batch's size as data
  EXPECT_FALSE(Dense(1).then("Relu", {1, 3}));  // a fixed batch of one
}

}  // namespace
}  // namespace mg::cpu
