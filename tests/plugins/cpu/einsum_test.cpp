// Einsum's GEMM path (FP32, two operands, each letter once per operand) against its
// direct-sum path (the same equation in FP64), which the ONNX node tests check.
#include <gtest/gtest.h>

#include <cmath>
#include <utility>
#include <vector>

#include "plugins/cpu/executor.h"
#include "tests/plugins/cpu/one_node_model.h"

namespace mg::cpu {
namespace {

using testing::Input;
using testing::one_node;
using testing::Output;

constexpr int kDouble = onnx::TensorProto::DOUBLE;

Tensor values(ElemType type, const Shape& shape, int salt) {
  Tensor t = Tensor::owned(type, shape);
  for (int64_t i = 0; i < t.size(); ++i) {
    const double v = std::sin(static_cast<double>(i * 7 + salt)) * 2;
    if (type == ElemType::kFloat) {
      t.data<float>()[i] = static_cast<float>(v);
    } else {
      t.data<double>()[i] = static_cast<float>(v);  // the same values as the FP32 run
    }
  }
  return t;
}

void expect_paths_agree(const std::string& equation, const Shape& a, const Shape& b, int out_rank) {
  SCOPED_TRACE(equation);
  // The output's shape and values, copied out: its buffer belongs to the executor's pool,
  // which must outlive it.
  auto run = [&](int onnx_type, ElemType type) {
    const auto graph = one_node("Einsum", {{"a", onnx_type, a}, {"b", onnx_type, b}},
                                {{onnx_type, out_rank}}, {}, {{"equation", equation}});
    Executor executor(graph, 1);
    const Tensor out = executor.run({values(type, a, 1), values(type, b, 2)}).at(0);
    std::vector<double> result;
    for (int64_t i = 0; i < out.size(); ++i) {
      result.push_back(type == ElemType::kFloat ? out.data<const float>()[i]
                                                : out.data<const double>()[i]);
    }
    return std::pair{out.shape, result};
  };
  const auto [fast_shape, fast] = run(testing::kFloat, ElemType::kFloat);
  const auto [direct_shape, direct] = run(kDouble, ElemType::kDouble);
  ASSERT_EQ(fast_shape, direct_shape);
  ASSERT_EQ(fast.size(), direct.size());
  double largest = 0;
  for (std::size_t i = 0; i < fast.size(); ++i) {
    largest = std::max(largest, std::fabs(direct[i]));
    EXPECT_NEAR(fast[i], direct[i], 1e-4 * (1 + std::fabs(direct[i]))) << i;
  }
  EXPECT_GT(largest, 0.1);  // not all zeros
}

TEST(Einsum, GemmPathMatchesTheDirectSum) {
  expect_paths_agree("ij,jk->ik", {5, 7}, {7, 3}, 2);
  expect_paths_agree("bhqd,bhkd->bhqk", {2, 3, 4, 8}, {2, 3, 5, 8}, 4);
  expect_paths_agree("i,j->ij", {4}, {6}, 2);
  expect_paths_agree("bij,bjk", {3, 2, 4}, {3, 4, 5}, 2);  // implicit output "ik": b summed
  expect_paths_agree("...ij,...jk->...ik", {2, 3, 4}, {2, 4, 2}, 3);
  expect_paths_agree("ik,jk->ji", {3, 6}, {4, 6}, 2);  // both transposed
}

TEST(Einsum, MalformedEquationsAreRefused) {
  const auto graph =
      one_node("Einsum", {{"a", testing::kFloat, {2, 3}}, {"b", testing::kFloat, {4, 5}}},
               {{testing::kFloat, 2}}, {}, {{"equation", "ij,jk->ik"}});
  Executor executor(graph, 1);
  EXPECT_THROW(
      executor.run({values(ElemType::kFloat, {2, 3}, 0), values(ElemType::kFloat, {4, 5}, 0)}),
      CpuError);  // j is 3 in one operand and 4 in the other
}

}  // namespace
}  // namespace mg::cpu
