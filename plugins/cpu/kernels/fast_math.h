// Float math the kernels call per element where glibc's scalar version is the bottleneck.
// Each is branch-free, so a loop calling it vectorises (glibc's expf is a call per
// element that no loop around it can vectorise).
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

namespace mg::cpu {

// e^x in float, relative error < 3e-7 (tests/plugins/cpu/fast_math_test): x = n·ln2 + r
// with |r| ≤ ln2/2, e^r by its Taylor polynomial to r⁶, 2^n built in the exponent bits.
// x is clamped to [-87.3, 88.3], where 2^n stays a normal float: e^x is then ≥ 1.2e-38
// (not 0) far below, finite (not ∞) far above. NaN stays NaN.
inline float fast_exp(float x) {
  x = x < -87.3f ? -87.3f : x;
  x = x > 88.3f ? 88.3f : x;
  // n = round(x / ln2), by the float adder's own rounding at 1.5·2²³.
  constexpr float kShift = 12582912.f;
  const float shifted = x * 1.44269504089f + kShift;
  const float n = shifted - kShift;
  const float r = (x - n * 0.693145751953125f) - n * 1.428606765330187e-06f;  // ln2 in two parts
  const float p =
      1.f +
      r * (1.f + r * (0.5f + r * (1.f / 6 + r * (1.f / 24 + r * (1.f / 120 + r * (1.f / 720))))));
  const auto bits = static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23;
  return p * std::bit_cast<float>(bits);
}

// 1 / (1 + e^-x): relative error < 1e-6.
inline float fast_sigmoid(float x) { return 1.f / (1.f + fast_exp(-x)); }

// tanh in float: glibc's tanhf goes through expm1f (~4× the cost of expf; 58 % of an LSTM
// run at batch 8). As 1 − 2/(e^{2x} + 1), and as its Taylor series near 0, where that
// form would cancel: relative error < 1.5e-6 (tests/plugins/cpu/fast_math_test), exact ±1
// past |x| = 9.
inline float fast_tanh(float x) {
  const float a = std::fabs(x);
  const float x2 = x * x;  // x − x³/3 + 2x⁵/15 − 17x⁷/315 + 62x⁹/2835; the next term < 1e-13
  const float series =
      x * (1.f + x2 * (-1.f / 3 + x2 * (2.f / 15 + x2 * (-17.f / 315 + x2 * (62.f / 2835)))));
  const float clamped = a > 9.f ? 9.f : a;
  const float t = 1.f - 2.f / (fast_exp(2.f * clamped) + 1.f);
  const float away = std::copysign(a > 9.f ? 1.f : t, x);
  return a < 0.1f ? series : away;
}

// erf in float, relative error < 1e-6: its Taylor series below |x| = 0.5, Abramowitz and
// Stegun's 7.1.26 beyond (absolute error < 1.5e-7 where erf > 0.52). GELU's erf in
// transformers, which glibc's erff computed one call per element.
inline float fast_erf(float x) {
  const float a = std::fabs(x);
  const float x2 = x * x;  // 2/√π · (x − x³/3 + x⁵/10 − x⁷/42 + x⁹/216 − x¹¹/1320)
  const float series =
      1.12837917f * x *
      (1.f + x2 * (-1.f / 3 +
                   x2 * (1.f / 10 + x2 * (-1.f / 42 + x2 * (1.f / 216 + x2 * (-1.f / 1320))))));
  const float t = 1.f / (1.f + 0.3275911f * a);
  const float poly =
      t * (0.254829592f +
           t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
  const float far = std::copysign(1.f - poly * fast_exp(-x2), x);
  return a < 0.5f ? series : far;
}

// The four over arrays (out may be in), compiled for AVX-512, for AVX2 and for the
// x86-64 baseline, the version for the CPU chosen when the library loads (the kernels are
// otherwise built for the baseline, whose 4-wide vectors leave most of the CPU idle).
void exp_floats(const float* in, float* out, int64_t n);
void sigmoid_floats(const float* in, float* out, int64_t n);
void tanh_floats(const float* in, float* out, int64_t n);
void erf_floats(const float* in, float* out, int64_t n);

}  // namespace mg::cpu
