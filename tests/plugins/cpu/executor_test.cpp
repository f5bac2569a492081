#include "plugins/cpu/executor.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "plugins/cpu/onnx_loader.h"
#include "plugins/cpu/optimizer.h"
#include "tests/plugins/cpu/cpu_test_support.h"

namespace mg::cpu {
namespace {

std::shared_ptr<const Graph> example(const std::string& name) {
  std::string bytes = testing::read_file(MG_EXAMPLES_DIR "/models/" + name + ".onnx");
  Graph graph = load_onnx(testing::bytes_of(bytes), "");
  optimize(graph);
  return std::make_shared<Graph>(std::move(graph));
}

Tensor images(int64_t batch, Shape shape) {
  shape.insert(shape.begin(), batch);
  Tensor input = Tensor::owned(ElemType::kFloat, shape);
  for (int64_t i = 0; i < input.size(); ++i) {
    input.data<float>()[i] = static_cast<float>((i * 7919) % 255) / 255;
  }
  return input;
}

// The outputs are computed into the caller's buffers (the host's, in the backend): the
// same values as pooled outputs, and nothing copied afterwards.
TEST(Executor, GraphOutputsAreComputedIntoTheCallersBuffers) {
  for (const auto& [model, shape] :
       {std::pair<std::string, Shape>{"fashion-mlp", {1, 28, 28}}, {"fashion-cnn", {1, 28, 28}}}) {
    const auto graph = example(model);
    Executor pooled(graph, 1), placed(graph, 1);
    const Tensor input = images(64, shape);
    const std::vector<Tensor> expected = pooled.run({input});
    std::vector<std::vector<std::byte>> buffers(graph->outputs.size());
    int calls = 0;
    const std::vector<Tensor> actual =
        placed.run({input}, [&](std::size_t k, ElemType, const Shape&, std::size_t bytes) {
          ++calls;
          buffers.at(k).assign(bytes, std::byte{0});
          return buffers[k].data();
        });
    ASSERT_EQ(calls, static_cast<int>(graph->outputs.size())) << model;
    for (std::size_t k = 0; k < actual.size(); ++k) {
      EXPECT_EQ(actual[k].bytes, buffers[k].data()) << model << ": output " << k << " was copied";
      ASSERT_EQ(actual[k].shape, expected[k].shape);
      EXPECT_EQ(std::memcmp(actual[k].bytes, expected[k].bytes, expected[k].byte_size()), 0)
          << model;
    }
  }
}

// An output the placer declines stays pooled.
TEST(Executor, DeclinedOutputsStayPooled) {
  const auto graph = example("fashion-mlp");
  Executor executor(graph, 1);
  const std::vector<Tensor> out =
      executor.run({images(2, {1, 28, 28})}, [](std::size_t, ElemType, const Shape&, std::size_t) {
        return static_cast<std::byte*>(nullptr);
      });
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NE(out[0].holder, nullptr);
  EXPECT_EQ(out[0].shape, (Shape{2, 10}));
}

}  // namespace
}  // namespace mg::cpu
