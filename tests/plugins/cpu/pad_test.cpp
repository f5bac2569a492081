// Pad in its three modes against the definition, one element at a time: pads that grow
// and that crop (negative), on inner and outer dimensions, a fill value, all-zero pads.
#include <gtest/gtest.h>

#include <algorithm>
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

// The element of x (row-major, `shape`) output index `out` reads, or -1 for the fill value.
int64_t source_of(const Shape& shape, const std::vector<int64_t>& pads, const Shape& out_shape,
                  int64_t out, const std::string& mode) {
  const std::size_t rank = shape.size();
  int64_t src = 0, stride = 1;
  for (std::size_t d = rank; d-- > 0;) {
    int64_t c = out % out_shape[d] - pads[d];
    out /= out_shape[d];
    const int64_t n = shape[d];
    if (c < 0 || c >= n) {
      if (mode == "constant") return -1;
      if (mode == "edge") {
        c = std::clamp<int64_t>(c, 0, n - 1);
      } else {
        const int64_t period = std::max<int64_t>(2 * (n - 1), 1);
        c = ((c % period) + period) % period;
        if (c >= n) c = period - c;
      }
    }
    src += c * stride;
    stride *= n;
  }
  return src;
}

void expect_pad(const Shape& shape, const std::vector<int64_t>& pads, const std::string& mode) {
  const std::string what = "mode " + mode + ", rank " + std::to_string(shape.size());
  SCOPED_TRACE(what);
  const auto rank = static_cast<int64_t>(shape.size());
  Executor executor(
      one_node("Pad", {{"x", kFloat, shape}, {"pads", kInt64, {2 * rank}}, {"value", kFloat, {}}},
               {{kFloat, static_cast<int>(rank)}}, {}, {{"mode", mode}}),
      2);
  Tensor fill = Tensor::owned(ElemType::kFloat, {});
  *fill.data<float>() = -7.f;
  auto out = executor.run({floats(shape), ints({2 * rank}, pads), fill});
  Shape out_shape(shape.size());
  for (std::size_t d = 0; d < shape.size(); ++d)
    out_shape[d] = shape[d] + pads[d] + pads[d + shape.size()];
  ASSERT_EQ(out[0].shape, out_shape);
  for (int64_t i = 0; i < out[0].size(); ++i) {
    const int64_t src = source_of(shape, pads, out_shape, i, mode);
    // floats() fills x with its own indices.
    ASSERT_EQ(out[0].data<const float>()[i], src < 0 ? -7.f : static_cast<float>(src))
        << "element " << i;
  }
}

TEST(Pad, EveryModeMatchesTheDefinition) {
  for (const std::string mode : {"constant", "edge", "reflect"}) {
    expect_pad({7}, {2, 3}, mode);
    expect_pad({3, 4}, {1, 2, 2, 1}, mode);
    expect_pad({3, 4}, {0, -1, 0, -2}, mode);          // crops the last dimension
    expect_pad({2, 3, 5}, {1, 0, -2, 0, 2, 3}, mode);  // grows and crops, outer and inner
    expect_pad({2, 3, 5}, {0, 0, 0, 0, 0, 0}, mode);   // nothing to do: the input as it is
  }
  expect_pad({2, 3}, {0, 0, 0, -3}, "constant");  // every column cropped away
  expect_pad({2, 3}, {-1, 4, 0, 0}, "constant");  // a row cropped, four columns of fill
}

}  // namespace
}  // namespace mg::cpu
