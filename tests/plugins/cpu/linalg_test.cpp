// MatMul with batch dimensions against its definition, on one and two threads: the
// products of a batch are split across the threads (attention's many small ones), and
// each must land in its own place, broadcast batch dimensions included.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "plugins/cpu/executor.h"
#include "tests/plugins/cpu/one_node_model.h"

namespace mg::cpu {
namespace {

using testing::floats;
using testing::kFloat;
using testing::one_node;

Tensor filled(const Shape& shape, int seed) {
  Tensor t = floats(shape);
  for (int64_t i = 0; i < t.size(); ++i)
    t.data<float>()[i] = static_cast<float>(((i + seed) * 7919) % 201) / 100.f - 1.f;
  return t;
}

TEST(Linalg, BatchedMatMulMatchesDefinitionOnOneAndTwoThreads) {
  // A [2, 40, m, k] × B [40, k, n]: B's batch broadcasts over A's leading dimension; 80
  // products of 3072 multiply-adds each, enough to be split across two threads.
  const int64_t outer = 2, batch = 40, m = 16, k = 12, n = 16;
  const Tensor a = filled({outer, batch, m, k}, 1);
  const Tensor b = filled({batch, k, n}, 2);
  for (int threads : {1, 2}) {
    SCOPED_TRACE(threads);
    Executor executor(
        one_node("MatMul", {{"a", kFloat, {outer, batch, m, k}}, {"b", kFloat, {batch, k, n}}},
                 {{kFloat, 4}}),
        threads);
    const std::vector<Tensor> y = executor.run({a, b});
    ASSERT_EQ(y[0].shape, (Shape{outer, batch, m, n}));
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t p = 0; p < batch; ++p) {
        const float* pa = a.data<const float>() + (o * batch + p) * m * k;
        const float* pb = b.data<const float>() + p * k * n;
        const float* py = y[0].data<const float>() + (o * batch + p) * m * n;
        for (int64_t i = 0; i < m; ++i) {
          for (int64_t j = 0; j < n; ++j) {
            double want = 0;
            for (int64_t l = 0; l < k; ++l) want += double{pa[i * k + l]} * pb[l * n + j];
            ASSERT_NEAR(py[i * n + j], want, 1e-5 * std::max(1.0, std::abs(want)))
                << o << "," << p << "," << i << "," << j;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace mg::cpu
