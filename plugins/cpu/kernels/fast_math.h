// Float math the kernels call per element where glibc's scalar version is the bottleneck.
#pragma once

#include <cmath>

namespace mg::cpu {

// tanh in float: glibc's tanhf goes through expm1f (~4× the cost of expf; 58 % of an LSTM
// run at batch 8). As 1 − 2/(e^{2x} + 1) on expf, and as its Taylor series near 0, where
// that form would cancel: relative error < 1.5e-6 (tests/plugins/cpu/fast_math_test), exact
// ±1 past |x| = 9.
inline float fast_tanh(float x) {
  const float a = std::fabs(x);
  if (a < 0.1f) {
    const float x2 = x * x;  // x − x³/3 + 2x⁵/15 − 17x⁷/315 + 62x⁹/2835; the next term < 1e-13
    return x * (1.f + x2 * (-1.f / 3 + x2 * (2.f / 15 + x2 * (-17.f / 315 + x2 * (62.f / 2835)))));
  }
  if (a > 9.f) return std::copysign(1.f, x);
  const float t = 1.f - 2.f / (std::exp(2.f * a) + 1.f);
  return std::copysign(t, x);
}

}  // namespace mg::cpu
