// fast_exp, fast_sigmoid and fast_tanh against double precision: the error bounds their
// comments state, and their ends (clamping, ±1, NaN).
#include "plugins/cpu/kernels/fast_math.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

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

TEST(FastMath, ExpAndSigmoidStayWithinTheirStatedRelativeError) {
  double worst_exp = 0, worst_sigmoid = 0;
  for (int i = -870000; i <= 880000; ++i) {
    const float x = static_cast<float>(i) * 1e-4f;  // -87 .. 88
    const double exact = std::exp(static_cast<double>(x));
    worst_exp = std::max(worst_exp, std::fabs(fast_exp(x) - exact) / exact);
    const double sigmoid = 1 / (1 + std::exp(-static_cast<double>(x)));
    worst_sigmoid = std::max(worst_sigmoid, std::fabs(fast_sigmoid(x) - sigmoid) / sigmoid);
  }
  EXPECT_LT(worst_exp, 3e-7);
  EXPECT_LT(worst_sigmoid, 1e-6);
  EXPECT_TRUE(std::isfinite(fast_exp(1000.f)));
  EXPECT_GT(fast_exp(-1000.f), 0.f);
  EXPECT_LT(fast_exp(-1000.f), 2e-38f);
  EXPECT_EQ(fast_sigmoid(-1000.f) < 2e-38f, true);
  EXPECT_EQ(fast_sigmoid(1000.f), 1.f);
  EXPECT_TRUE(std::isnan(fast_exp(NAN)));
  EXPECT_TRUE(std::isnan(fast_sigmoid(NAN)));
}

TEST(FastMath, ErfStaysWithinItsStatedRelativeError) {
  double worst = 0;
  for (int i = -60000; i <= 60000; ++i) {
    const float x = static_cast<float>(i) * 1e-4f;  // -6 .. 6, through the 0.5 switch
    const double exact = std::erf(static_cast<double>(x));
    if (exact == 0) {
      EXPECT_EQ(fast_erf(x), 0.f);
      continue;
    }
    worst = std::max(worst, std::fabs(fast_erf(x) - exact) / std::fabs(exact));
  }
  EXPECT_LT(worst, 1e-6);
  EXPECT_EQ(fast_erf(100.f), 1.f);
  EXPECT_EQ(fast_erf(-100.f), -1.f);
  EXPECT_TRUE(std::isnan(fast_erf(NAN)));
}

// The array forms run the version compiled for this CPU (AVX-512, AVX2 or baseline, which
// may fuse multiply-adds): the same bounds hold, and in and out may be one array.
TEST(FastMath, ArrayFormsKeepTheBoundsOnThisCpu) {
  std::vector<float> x;
  for (int i = -80000; i <= 80000; ++i) x.push_back(static_cast<float>(i) * 1e-3f);  // -80 .. 80
  std::vector<float> e(x.size()), s(x.size()), t(x), r(x.size());
  erf_floats(x.data(), r.data(), static_cast<int64_t>(x.size()));
  exp_floats(x.data(), e.data(), static_cast<int64_t>(x.size()));
  sigmoid_floats(x.data(), s.data(), static_cast<int64_t>(x.size()));
  tanh_floats(t.data(), t.data(), static_cast<int64_t>(t.size()));  // in place
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double v = x[i];
    ASSERT_LT(std::fabs(e[i] - std::exp(v)) / std::exp(v), 3e-7) << "exp " << v;
    const double sigmoid = 1 / (1 + std::exp(-v));
    ASSERT_LT(std::fabs(s[i] - sigmoid) / sigmoid, 1e-6) << "sigmoid " << v;
    if (v != 0) {
      ASSERT_LT(std::fabs(r[i] - std::erf(v)) / std::fabs(std::erf(v)), 1e-6) << "erf " << v;
    }
    if (std::tanh(v) != 0) {
      ASSERT_LT(std::fabs(t[i] - std::tanh(v)) / std::fabs(std::tanh(v)), 1.5e-6) << "tanh " << v;
    }
  }
}

}  // namespace
}  // namespace mg::cpu
