// Transpose against its definition for element sizes the ONNX node tests do not cover
// (they are all float): the innermost output axis read with a stride goes through a typed
// gather per row, a contiguous one through memcpy. Softmax and LogSoftmax over many rows
// of a length that is not a multiple of the vector width, against double arithmetic.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "plugins/cpu/executor.h"
#include "tests/plugins/cpu/one_node_model.h"

namespace mg::cpu {
namespace {

using testing::floats;
using testing::ints;
using testing::kFloat;
using testing::kInt64;
using testing::one_node;

TEST(ShapeOps, TransposeOfInt64ReversesEveryAxis) {
  const int64_t a = 2, b = 3, c = 5;
  std::vector<int64_t> values(static_cast<std::size_t>(a * b * c));
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<int64_t>(i) * 1000003;
  Executor executor(one_node("Transpose", {{"x", kInt64, {a, b, c}}}, {{kInt64, 3}}), 1);
  const std::vector<Tensor> y = executor.run({ints({a, b, c}, values)});
  ASSERT_EQ(y[0].shape, (Shape{c, b, a}));
  for (int64_t i = 0; i < a; ++i) {
    for (int64_t j = 0; j < b; ++j) {
      for (int64_t k = 0; k < c; ++k) {
        EXPECT_EQ(y[0].data<const int64_t>()[(k * b + j) * a + i],
                  values[static_cast<std::size_t>((i * b + j) * c + k)]);
      }
    }
  }
}

TEST(ShapeOps, SoftmaxRowsMatchDoubleArithmetic) {
  const int64_t rows = 37, len = 1003;
  Tensor x = floats({rows, len});
  for (int64_t i = 0; i < x.size(); ++i)
    x.data<float>()[i] = static_cast<float>((i * 7919) % 2001) / 100.f - 10.f;
  for (const char* op : {"Softmax", "LogSoftmax"}) {
    SCOPED_TRACE(op);
    Executor executor(one_node(op, {{"x", kFloat, {rows, len}}}, {{kFloat, 2}}), 1);
    const std::vector<Tensor> y = executor.run({x});
    const bool log = std::string(op) == "LogSoftmax";
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = x.data<const float>() + r * len;
      double max = row[0], sum = 0;
      for (int64_t j = 0; j < len; ++j) max = std::max<double>(max, row[j]);
      for (int64_t j = 0; j < len; ++j) sum += std::exp(row[j] - max);
      for (int64_t j = 0; j < len; ++j) {
        const double want = log ? row[j] - max - std::log(sum) : std::exp(row[j] - max) / sum;
        const double got = y[0].data<const float>()[r * len + j];
        ASSERT_NEAR(got, want, 2e-6 * std::max(1.0, std::abs(want))) << r << "," << j;
      }
    }
  }
}

}  // namespace
}  // namespace mg::cpu
