// Broken and hostile ONNX files through the real libmg_cpu.so: each gets a clear load
// error with the right code, never a crash or a huge allocation.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/plugins/cpu/cpu_test_support.h"

namespace mg::cpu {
namespace {

using gateway::BackendError;
using testing::load_model;

// A one-node model: y = op(x, w) with x an FP32 input [2, 3] and w a [2, 3] initializer.
onnx::ModelProto binary_model(const std::string& op, int opset = 13,
                              const std::string& domain = "") {
  onnx::ModelProto model;
  model.set_ir_version(8);
  auto* import = model.add_opset_import();
  import->set_version(opset);
  if (!domain.empty()) {
    auto* extra = model.add_opset_import();
    extra->set_domain(domain);
    extra->set_version(1);
  }
  auto* graph = model.mutable_graph();
  graph->set_name("g");
  auto add_value = [](onnx::ValueInfoProto* v, const std::string& name) {
    v->set_name(name);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(onnx::TensorProto::FLOAT);
    t->mutable_shape()->add_dim()->set_dim_value(2);
    t->mutable_shape()->add_dim()->set_dim_value(3);
  };
  add_value(graph->add_input(), "x");
  add_value(graph->add_output(), "y");
  auto* w = graph->add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(2);
  w->add_dims(3);
  for (int i = 0; i < 6; ++i) w->add_float_data(static_cast<float>(i));
  auto* node = graph->add_node();
  node->set_name("the_node");
  node->set_op_type(op);
  node->set_domain(domain);
  node->add_input("x");
  node->add_input("w");
  node->add_output("y");
  return model;
}

// Asserts that loading fails with `code` and a message holding every fragment.
void expect_load_error(const std::string& bytes, int32_t code,
                       const std::vector<std::string>& fragments, const std::string& path = "") {
  try {
    load_model(bytes, "{}", path);
    ADD_FAILURE() << "the model loaded";
  } catch (const BackendError& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    for (const auto& fragment : fragments) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos)
          << "'" << fragment << "' not in: " << e.what();
    }
  }
}

TEST(HostileModels, ValidModelLoads) {
  EXPECT_NO_THROW(load_model(binary_model("Add").SerializeAsString()));
}

TEST(HostileModels, TruncatedModelAtEveryTenthByteFailsCleanly) {
  std::string bytes = testing::read_file(MG_EXAMPLES_DIR "/models/fashion-mlp.onnx");
  ASSERT_GT(bytes.size(), 1000u);
  int refused = 0;
  for (std::size_t cut = 0; cut < bytes.size(); cut += bytes.size() / 97 + 1) {
    try {
      load_model(bytes.substr(0, cut));
    } catch (const BackendError& e) {
      EXPECT_EQ(e.code(), MG_ERROR_INVALID_ARGUMENT) << "cut at " << cut << ": " << e.what();
      ++refused;
    }
  }
  EXPECT_GT(refused, 90);
}

TEST(HostileModels, GarbageBytesAreNotAModel) {
  std::string garbage(4096, '\0');
  for (std::size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>(i * 131 + 7);
  expect_load_error(garbage, MG_ERROR_INVALID_ARGUMENT, {"not an ONNX model"});
  expect_load_error("", MG_ERROR_INVALID_ARGUMENT, {});
}

TEST(HostileModels, UnsupportedOperatorIsNamedWithDomainOpsetAndNode) {
  expect_load_error(binary_model("BitShift").SerializeAsString(), MG_ERROR_UNSUPPORTED,
                    {"unsupported operator BitShift", "domain ai.onnx", "opset 13", "'the_node'"});
  expect_load_error(binary_model("FusedMatMul", 13, "com.microsoft").SerializeAsString(),
                    MG_ERROR_UNSUPPORTED,
                    {"unsupported operator FusedMatMul", "domain com.microsoft", "'the_node'"});
}

TEST(HostileModels, EveryMissingOperatorAndRefusedAttributeIsListedAtOnce) {
  // x → BitShift → Det → BitShift → MaxPool(storage_order 1) → Pad(axes): two operators
  // the backend lacks (one used twice) and two refused inputs or attributes, one error.
  onnx::ModelProto model = binary_model("BitShift");
  auto* graph = model.mutable_graph();
  auto add_node = [&](const std::string& name, const std::string& op,
                      std::vector<std::string> inputs, const std::string& output) {
    auto* node = graph->add_node();
    node->set_name(name);
    node->set_op_type(op);
    for (const auto& in : inputs) node->add_input(in);
    node->add_output(output);
    return node;
  };
  graph->mutable_node(0)->set_output(0, "a");
  add_node("det", "Det", {"a"}, "b");
  add_node("shift2", "BitShift", {"b", "w"}, "c");
  auto* pool = add_node("pool", "MaxPool", {"c"}, "d");
  auto* order = pool->add_attribute();
  order->set_name("storage_order");
  order->set_type(onnx::AttributeProto::INT);
  order->set_i(1);
  add_node("pad", "Pad", {"d", "pads", "", "axes"}, "y");
  expect_load_error(
      model.SerializeAsString(), MG_ERROR_UNSUPPORTED,
      {"unsupported operators (2)",
       "BitShift (domain ai.onnx, opset 13) at 2 nodes, first 'the_node'",
       "Det (domain ai.onnx, opset 13) at node 'det'", "unsupported attributes or outputs (2)",
       "MaxPool node 'pool': storage_order 1 is not supported",
       "Pad node 'pad': the axes input is not supported"});
}

TEST(HostileModels, OpsetsOutsideSevenToSeventeenAreUnsupported) {
  expect_load_error(binary_model("Add", 6).SerializeAsString(), MG_ERROR_UNSUPPORTED,
                    {"opset 6", "7 to 17"});
  expect_load_error(binary_model("Add", 18).SerializeAsString(), MG_ERROR_UNSUPPORTED,
                    {"opset 18"});
}

TEST(HostileModels, InconsistentShapesAreRefused) {
  onnx::ModelProto model = binary_model("Add");
  auto* w = model.mutable_graph()->mutable_initializer(0);
  w->set_dims(1, 4);  // [2, 4] + [2, 3] does not broadcast
  w->add_float_data(0);
  w->add_float_data(0);
  expect_load_error(model.SerializeAsString(), MG_ERROR_INVALID_ARGUMENT, {});
}

TEST(HostileModels, AbsurdDimensionsAreRefusedBeforeAllocating) {
  onnx::ModelProto model = binary_model("Add");
  auto* w = model.mutable_graph()->mutable_initializer(0);
  w->clear_float_data();
  w->set_dims(0, int64_t{1} << 40);
  w->set_dims(1, int64_t{1} << 40);
  expect_load_error(model.SerializeAsString(), MG_ERROR_INVALID_ARGUMENT, {});
}

TEST(HostileModels, DataSizeMustMatchTheShape) {
  onnx::ModelProto model = binary_model("Add");
  auto* w = model.mutable_graph()->mutable_initializer(0);
  w->clear_float_data();
  w->set_raw_data(std::string(5, 'x'));  // 5 bytes for 6 floats
  expect_load_error(model.SerializeAsString(), MG_ERROR_INVALID_ARGUMENT, {});
}

// Found by onnx_load_fuzzer: libonnx's Conv/Pool shape inference divides by strides,
// dilations and group, so a zero there killed the process with SIGFPE during load.
TEST(HostileModels, ZeroStridesDilationsKernelsAndGroupsAreRefusedNotFatal) {
  onnx::ModelProto conv;
  {
    std::ifstream in(
        "/usr/share/libonnx-testdata/data/node/test_conv_with_strides_padding/model.onnx",
        std::ios::binary);
    ASSERT_TRUE(conv.ParseFromIstream(&in));
  }
  ASSERT_NO_THROW(load_model(conv.SerializeAsString()));
  auto with = [&](const std::string& name, std::vector<int64_t> values) {
    onnx::ModelProto model = conv;
    auto* node = model.mutable_graph()->mutable_node(0);
    onnx::AttributeProto* attribute = nullptr;
    for (auto& a : *node->mutable_attribute()) {
      if (a.name() == name) attribute = &a;
    }
    if (attribute == nullptr) {
      attribute = node->add_attribute();
      attribute->set_name(name);
    }
    attribute->clear_ints();
    if (name == "group") {
      attribute->set_type(onnx::AttributeProto::INT);
      attribute->set_i(values[0]);
    } else {
      attribute->set_type(onnx::AttributeProto::INTS);
      for (auto v : values) attribute->add_ints(v);
    }
    return model.SerializeAsString();
  };
  expect_load_error(with("strides", {0, 2}), MG_ERROR_INVALID_ARGUMENT, {"strides", "positive"});
  expect_load_error(with("dilations", {1, 0}), MG_ERROR_INVALID_ARGUMENT, {"dilations"});
  expect_load_error(with("kernel_shape", {0, 3}), MG_ERROR_INVALID_ARGUMENT, {"kernel_shape"});
  expect_load_error(with("pads", {1, -1, 1, 1}), MG_ERROR_INVALID_ARGUMENT, {"pads"});
  expect_load_error(with("group", {0}), MG_ERROR_INVALID_ARGUMENT, {"group"});
}

// A Conv whose W has rank 2 for a rank-4 X and no kernel_shape crashed libonnx's shape
// inference (found by onnx_load_fuzzer; the corpus keeps the reproducer): refused first.
TEST(HostileModels, WindowRanksThatDisagreeAreRefusedBeforeOnnxShapeInference) {
  const std::string reproducer = testing::read_file(
      std::string(MG_SOURCE_DIR) + "/tests/fuzz/corpus/onnx_load/regression-conv-weight-rank.onnx");
  ASSERT_FALSE(reproducer.empty());
  expect_load_error(reproducer, MG_ERROR_INVALID_ARGUMENT, {"W has rank 2 but X has rank 4"});
  onnx::ModelProto pool = binary_model("MaxPool");
  pool.mutable_graph()->mutable_node(0)->clear_input();
  pool.mutable_graph()->mutable_node(0)->add_input("x");
  expect_load_error(pool.SerializeAsString(), MG_ERROR_INVALID_ARGUMENT, {"rank 2"});
}

TEST(HostileModels, MissingInitializerAndCyclesAreRefused) {
  onnx::ModelProto missing = binary_model("Add");
  missing.mutable_graph()->clear_initializer();  // "w" is now defined nowhere
  expect_load_error(missing.SerializeAsString(), MG_ERROR_INVALID_ARGUMENT, {});

  onnx::ModelProto cycle = binary_model("Add");
  auto* graph = cycle.mutable_graph();
  graph->mutable_node(0)->set_input(1, "z");  // y = x + z
  auto* second = graph->add_node();           // z = y + x
  second->set_op_type("Add");
  second->set_name("second");
  second->add_input("y");
  second->add_input("x");
  second->add_output("z");
  expect_load_error(cycle.SerializeAsString(), MG_ERROR_INVALID_ARGUMENT, {});
}

class ExternalData : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "mg_ext_XXXXXX").string();
    dir_ = mkdtemp(pattern.data());
    std::ofstream(dir_ / "weights.bin", std::ios::binary)
        .write(reinterpret_cast<const char*>(kWeights), sizeof kWeights);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string model_with_location(const std::string& location) {
    onnx::ModelProto model = binary_model("Add");
    auto* w = model.mutable_graph()->mutable_initializer(0);
    w->clear_float_data();
    w->set_data_location(onnx::TensorProto::EXTERNAL);
    auto* entry = w->add_external_data();
    entry->set_key("location");
    entry->set_value(location);
    return model.SerializeAsString();
  }

  static constexpr float kWeights[6] = {10, 20, 30, 40, 50, 60};
  std::filesystem::path dir_;
};

TEST_F(ExternalData, ResolvesInsideTheModelsDirectory) {
  auto model = load_model(model_with_location("weights.bin"), "{}", (dir_ / "model.onnx").string());
  auto instance = model->create_instance(0);
  float x[6] = {1, 1, 1, 1, 1, 1};
  gateway::BatchInput batch;
  batch.inputs.push_back({"x", gateway::DType::kFp32, {2, 3}, x, sizeof x});
  batch.request_rows = {1};
  auto out = instance->execute(batch);
  ASSERT_FALSE(out.request_failures[0]);
  EXPECT_EQ(reinterpret_cast<const float*>(out.outputs[0].data.get())[5], 61.f);
}

TEST_F(ExternalData, PathsOutsideTheDirectoryAreRefused) {
  const std::string path = (dir_ / "model.onnx").string();
  for (const char* location :
       {"../weights.bin", "/etc/passwd", "sub/../../x", "../../../etc/passwd"}) {
    expect_load_error(model_with_location(location), MG_ERROR_INVALID_ARGUMENT,
                      {"outside the model's directory"}, path);
  }
  // A model that arrives as bytes alone has no directory to read from.
  expect_load_error(model_with_location("weights.bin"), MG_ERROR_INVALID_ARGUMENT, {"directory"});
}

TEST(HostileInputs, OutOfRangeTokenIdIsARequestError) {
  std::string bytes = testing::read_file(MG_EXAMPLES_DIR "/models/text-classifier.onnx");
  auto instance = load_model(bytes)->create_instance(0);
  std::vector<int64_t> tokens(32, 3);
  tokens[5] = 1'000'000;  // far past the 5000-word vocabulary
  gateway::BatchInput batch;
  batch.inputs.push_back({"tokens", gateway::DType::kInt64, {1, 32}, tokens.data(), 32 * 8});
  batch.request_rows = {1};
  auto out = instance->execute(batch);
  ASSERT_TRUE(out.request_failures[0]);
  EXPECT_NE(out.request_failures[0]->message.find("out of range"), std::string::npos)
      << out.request_failures[0]->message;
}

// A model whose output shape is a request value: shape INT64 [2] -> ConstantOfShape (or
// Expand of a [1] tensor to that shape) -> FLOAT. A hostile request asks for dimensions
// whose product wraps around int64 to a tiny number, or that are merely enormous.
std::string shape_from_request_model(const std::string& op) {
  onnx::ModelProto model;
  model.set_ir_version(8);
  model.add_opset_import()->set_version(13);
  auto* graph = model.mutable_graph();
  graph->set_name("g");
  auto* input = graph->add_input();
  input->set_name("shape");
  input->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::INT64);
  input->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(2);
  auto* output = graph->add_output();
  output->set_name("y");
  output->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  auto* dims = output->mutable_type()->mutable_tensor_type()->mutable_shape();
  dims->add_dim()->set_dim_param("rows");
  dims->add_dim()->set_dim_param("columns");
  auto* node = graph->add_node();
  node->set_name("the_node");
  node->set_op_type(op);
  if (op == "Expand") {
    auto* one = graph->add_initializer();
    one->set_name("one");
    one->set_data_type(onnx::TensorProto::FLOAT);
    one->add_dims(1);
    one->add_float_data(1.f);
    node->add_input("one");
  }
  node->add_input("shape");
  node->add_output("y");
  return model.SerializeAsString();
}

TEST(HostileInputs, ShapesComputedFromRequestValuesAreCheckedBeforeAllocating) {
  for (const std::string op : {"ConstantOfShape", "Expand"}) {
    auto instance = load_model(shape_from_request_model(op))->create_instance(0);
    // 3 x 6148914691236517206 = 2^64 + 2: wrapped, a 2-element buffer for a huge shape.
    for (const std::vector<int64_t>& shape : std::vector<std::vector<int64_t>>{
             {3, 6148914691236517206}, {1 << 20, 1 << 20}, {int64_t{1} << 62, 4}}) {
      SCOPED_TRACE(op + " " + std::to_string(shape[0]) + "x" + std::to_string(shape[1]));
      gateway::BatchInput batch;
      batch.inputs.push_back({"shape", gateway::DType::kInt64, {2}, shape.data(), 16});
      batch.request_rows = {1};
      auto out = instance->execute(batch);
      ASSERT_TRUE(out.request_failures[0]);
      EXPECT_EQ(out.request_failures[0]->code, MG_ERROR_INVALID_ARGUMENT)
          << out.request_failures[0]->message;
      EXPECT_TRUE(out.outputs.empty());
    }
    const std::vector<int64_t> fine = {2, 3};
    gateway::BatchInput batch;
    batch.inputs.push_back({"shape", gateway::DType::kInt64, {2}, fine.data(), 16});
    batch.request_rows = {1};
    auto out = instance->execute(batch);
    ASSERT_FALSE(out.request_failures[0]) << out.request_failures[0]->message;
    EXPECT_EQ(out.outputs[0].shape, (std::vector<int64_t>{2, 3}));
  }
}

}  // namespace
}  // namespace mg::cpu

namespace mg::cpu {
namespace {

// Attributes named with a leading underscore are the optimizer's own (a fused Relu, a
// Concat's folded normalisation, …): a file that set them would steer kernels past the
// checks the optimizer made (a "_scale" on a Concat along another axis). ONNX's checker
// refuses them as attributes the operator does not have; this keeps it so.
TEST(HostileModels, TheOptimizersReservedAttributesAreRefused) {
  onnx::ModelProto concat = binary_model("Concat");
  auto* node = concat.mutable_graph()->mutable_node(0);
  auto* axis = node->add_attribute();
  axis->set_name("axis");
  axis->set_type(onnx::AttributeProto::INT);
  axis->set_i(0);
  concat.mutable_graph()
      ->mutable_output(0)
      ->mutable_type()
      ->mutable_tensor_type()
      ->mutable_shape()
      ->mutable_dim(0)
      ->set_dim_value(4);
  ASSERT_NO_THROW(load_model(concat.SerializeAsString()));
  for (const char* name : {"_scale", "_shift"}) {
    auto* a = node->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOATS);
    for (int i = 0; i < 3; ++i) a->add_floats(1.f);
  }
  expect_load_error(concat.SerializeAsString(), MG_ERROR_INVALID_ARGUMENT,
                    {"Unrecognized attribute: _scale"});

  onnx::ModelProto gemm = binary_model("Gemm");
  auto* relu = gemm.mutable_graph()->mutable_node(0)->add_attribute();
  relu->set_name("_relu");
  relu->set_type(onnx::AttributeProto::INT);
  relu->set_i(1);
  expect_load_error(gemm.SerializeAsString(), MG_ERROR_INVALID_ARGUMENT,
                    {"Unrecognized attribute: _relu"});
}

}  // namespace
}  // namespace mg::cpu
