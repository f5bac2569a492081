// Element-wise loops over float arrays that the kernels run on whole rows or planes,
// compiled for AVX-512, for AVX2 and for the x86-64 baseline, the version for the CPU
// chosen when the library loads (the kernels are otherwise built for the baseline, whose
// 4-wide vectors leave most of the CPU idle). `out` may be an input.
#pragma once

#include <cstdint>

namespace mg::cpu {

// out[i] = x[i]·a[i] + b[i], then max(·, 0) when `relu`: a channel-last pixel's channels
// through a per-channel affine map (BatchNormalization, a normalising Concat).
void scale_shift_rows(const float* x, const float* a, const float* b, float* out, int64_t n,
                      bool relu);

// BatchNormalization's per-channel affine map: a[c] = scale[c] / √(var[c] + ε),
// b[c] = bias[c] − mean[c]·a[c] (its kernel and the Concat the optimizer fuses it into
// compute it alike).
void batch_norm_affine(const float* scale, const float* bias, const float* mean, const float* var,
                       float eps, int64_t channels, float* a, float* b);

// out[i] = x[i]·a + b, then max(·, 0) when `relu`: one channel-first plane.
void scale_shift_plane(const float* x, float a, float b, float* out, int64_t n, bool relu);

// acc[i] += x[i]; acc[i] = max(acc[i], x[i]): a channel-last pixel into a global pool's row.
void add_into(const float* x, float* acc, int64_t n);
void max_into(const float* x, float* acc, int64_t n);

// z[i] = x[i·sx] ∘ y[i·sy], ∘ one of + − × ÷, strides 0 or 1 (one side may be a single
// value: a per-channel scale, a residual sum): the FP32 runs of Add, Sub, Mul and Div.
enum class FloatOp { kAdd, kSub, kMul, kDiv };
void binary_floats(FloatOp op, const float* x, int64_t sx, const float* y, int64_t sy, float* z,
                   int64_t n);

}  // namespace mg::cpu
