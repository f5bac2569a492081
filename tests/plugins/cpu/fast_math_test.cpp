// fast_tanh against double-precision tanh: the error bound its comment states.
#include "plugins/cpu/kernels/fast_math.h"

#include <gtest/gtest.h>

#include <cmath>

namespace mg::cpu {
namespace {

TEST(FastMath, TanhStaysWithinItsStatedRelativeError) {
  double worst = 0;
  for (int i = -200000; i <= 200000; ++i) {
    const float x = static_cast<float>(i) * 1e-4f;  // -20 .. 20, through the 0.05 switch
    const double exact = std::tanh(static_cast<double>(x));
    const double got = fast_tanh(x);
    if (exact == 0) {
      EXPECT_EQ(got, 0.0);
      continue;
    }
    worst = std::max(worst, std::fabs(got - exact) / std::fabs(exact));
  }
  EXPECT_LT(worst, 1.5e-6);
  EXPECT_EQ(fast_tanh(100.f), 1.f);
  EXPECT_EQ(fast_tanh(-100.f), -1.f);
  EXPECT_TRUE(std::isnan(fast_tanh(NAN)));
}

}  // namespace
}  // namespace mg::cpu
