// Index-driven operators (and Resize) fed hostile indices and sizes at run time: each is refused
// with a clear error naming the node (never an out-of-bounds read or write, never a huge
// allocation), and what the spec defines for out-of-range input (OneHot) is computed.
#include <gtest/gtest.h>

#include "plugins/cpu/cpu_error.h"
#include "plugins/cpu/executor.h"
#include "tests/plugins/cpu/cpu_test_support.h"
#include "tests/plugins/cpu/one_node_model.h"

namespace mg::cpu {
namespace {

using testing::floats;
using testing::ints;
using testing::kFloat;
using testing::kInt64;
using testing::one_node;

// Runs and expects a CpuError whose message holds `fragment`.
void expect_refused(const std::shared_ptr<const Graph>& graph, std::vector<Tensor> inputs,
                    const std::string& fragment) {
  Executor executor(graph, 1);
  try {
    executor.run(std::move(inputs));
    ADD_FAILURE() << "ran";
  } catch (const CpuError& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("node 'n'"), std::string::npos) << e.what();
  }
}

TEST(IndexOps, IndicesOutsideTheirDimensionAreRefused) {
  expect_refused(one_node("GatherElements", {{"x", kFloat, {2, 3}}, {"i", kInt64, {2, 2}}},
                          {{kFloat, 2}}, {{"axis", 1}}),
                 {floats({2, 3}), ints({2, 2}, {0, 1, 2, 3})}, "index 3 is out of range");
  expect_refused(
      one_node("GatherElements", {{"x", kFloat, {2, 3}}, {"i", kInt64, {2, 2}}}, {{kFloat, 2}}),
      {floats({2, 3}), ints({2, 2}, {0, -3, 1, 0})}, "index -3 is out of range");
  expect_refused(
      one_node("ScatterND", {{"x", kFloat, {4}}, {"i", kInt64, {1, 1}}, {"u", kFloat, {1}}},
               {{kFloat, 1}}),
      {floats({4}), ints({1, 1}, {1 << 30}), floats({1})}, "out of range");
  expect_refused(
      one_node("GatherND", {{"x", kFloat, {2, 2}}, {"i", kInt64, {1, 2}}}, {{kFloat, 1}}),
      {floats({2, 2}), ints({1, 2}, {0, 7})}, "index 7 is out of range");
  expect_refused(
      one_node("ScatterElements", {{"x", kFloat, {3}}, {"i", kInt64, {1}}, {"u", kFloat, {1}}},
               {{kFloat, 1}}),
      {floats({3}), ints({1}, {-4}), floats({1})}, "index -4 is out of range");
}

TEST(IndexOps, SizesFromTensorsAreBoundedBeforeAllocating) {
  expect_refused(
      one_node("TopK", {{"x", kFloat, {5}}, {"k", kInt64, {1}}}, {{kFloat, 1}, {kInt64, 1}}),
      {floats({5}), ints({1}, {6})}, "K is 6 for an axis of 5");
  expect_refused(
      one_node("Range", {{"a", kInt64, {}}, {"b", kInt64, {}}, {"d", kInt64, {}}}, {{kInt64, 1}}),
      {ints({}, {0}), ints({}, {10}), ints({}, {0})}, "delta must not be 0");
  expect_refused(
      one_node("Range", {{"a", kInt64, {}}, {"b", kInt64, {}}, {"d", kInt64, {}}}, {{kInt64, 1}}),
      {ints({}, {0}), ints({}, {int64_t{1} << 62}), ints({}, {1})}, "too long");
  expect_refused(one_node("Tile", {{"x", kFloat, {2}}, {"r", kInt64, {1}}}, {{kFloat, 1}}),
                 {floats({2}), ints({1}, {int64_t{1} << 45})}, "too large");
  expect_refused(one_node("Tile", {{"x", kFloat, {2}}, {"r", kInt64, {1}}}, {{kFloat, 1}}),
                 {floats({2}), ints({1}, {-1})}, "must not be negative");
}

TEST(IndexOps, ResizeBoundsItsOutputAndIntermediatesBeforeAllocating) {
  // [1000, 1] → [1, 2³¹]: the output is 8 GiB, and growing the last axis first would make
  // an 8 TB intermediate.
  const auto graph = one_node("Resize",
                              {{"x", kFloat, {1000, 1}},
                               {"roi", kFloat, {0}},
                               {"scales", kFloat, {0}},
                               {"sizes", kInt64, {2}}},
                              {{kFloat, 2}});
  expect_refused(graph,
                 {floats({1000, 1}), floats({0}), floats({0}), ints({2}, {1, int64_t{1} << 31})},
                 "too large");
  expect_refused(graph, {floats({1000, 1}), floats({0}), floats({0}), ints({2}, {1, -5})},
                 "out of range");
}

TEST(IndexOps, OneHotLeavesOutOfRangeIndicesAllOff) {
  const auto graph =
      one_node("OneHot", {{"i", kInt64, {4}}, {"depth", kInt64, {}}, {"values", kFloat, {2}}},
               {{kFloat, 2}});
  Executor executor(graph, 1);
  Tensor values = Tensor::owned(ElemType::kFloat, {2});
  values.data<float>()[0] = -1;
  values.data<float>()[1] = 5;
  const auto out = executor.run({ints({4}, {0, -1, 3, -9}), ints({}, {3}), values});
  ASSERT_EQ(out[0].shape, (Shape{4, 3}));
  const std::vector<float> expected = {5, -1, -1, -1, -1, 5, -1, -1, -1, -1, -1, -1};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(out[0].data<const float>()[i], expected[i]) << i;
  }
}

}  // namespace
}  // namespace mg::cpu
