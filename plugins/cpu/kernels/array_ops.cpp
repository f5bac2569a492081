#include "plugins/cpu/kernels/array_ops.h"

#include <cmath>

#include "plugins/cpu/kernels/vector_clones.h"

namespace mg::cpu {

MG_VECTOR_CLONES void scale_shift_rows(const float* x, const float* a, const float* b, float* out,
                                       int64_t n, bool relu) {
  if (relu) {
    for (int64_t i = 0; i < n; ++i) {
      const float v = x[i] * a[i] + b[i];
      out[i] = v > 0.f ? v : 0.f;
    }
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = x[i] * a[i] + b[i];
  }
}

void batch_norm_affine(const float* scale, const float* bias, const float* mean, const float* var,
                       float eps, int64_t channels, float* a, float* b) {
  for (int64_t c = 0; c < channels; ++c) {
    a[c] = scale[c] / std::sqrt(var[c] + eps);
    b[c] = bias[c] - mean[c] * a[c];
  }
}

MG_VECTOR_CLONES void scale_shift_plane(const float* x, float a, float b, float* out, int64_t n,
                                        bool relu) {
  if (relu) {
    for (int64_t i = 0; i < n; ++i) {
      const float v = x[i] * a + b;
      out[i] = v > 0.f ? v : 0.f;
    }
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = x[i] * a + b;
  }
}

MG_VECTOR_CLONES void add_into(const float* x, float* acc, int64_t n) {
  for (int64_t i = 0; i < n; ++i) acc[i] += x[i];
}

MG_VECTOR_CLONES void max_into(const float* x, float* acc, int64_t n) {
  for (int64_t i = 0; i < n; ++i) acc[i] = x[i] > acc[i] ? x[i] : acc[i];
}

namespace {

template <typename Op>
inline void binary_runs(Op op, const float* x, int64_t sx, const float* y, int64_t sy, float* z,
                        int64_t n) {
  if (sx == 1 && sy == 1) {
    for (int64_t i = 0; i < n; ++i) z[i] = op(x[i], y[i]);
  } else if (sx == 1) {
    const float y0 = *y;
    for (int64_t i = 0; i < n; ++i) z[i] = op(x[i], y0);
  } else if (sy == 1) {
    const float x0 = *x;
    for (int64_t i = 0; i < n; ++i) z[i] = op(x0, y[i]);
  } else {
    const float z0 = op(*x, *y);
    for (int64_t i = 0; i < n; ++i) z[i] = z0;
  }
}

}  // namespace

MG_VECTOR_CLONES void binary_floats(FloatOp op, const float* x, int64_t sx, const float* y,
                                    int64_t sy, float* z, int64_t n) {
  switch (op) {
    case FloatOp::kAdd:
      return binary_runs([](float a, float b) { return a + b; }, x, sx, y, sy, z, n);
    case FloatOp::kSub:
      return binary_runs([](float a, float b) { return a - b; }, x, sx, y, sy, z, n);
    case FloatOp::kMul:
      return binary_runs([](float a, float b) { return a * b; }, x, sx, y, sy, z, n);
    case FloatOp::kDiv:
      return binary_runs([](float a, float b) { return a / b; }, x, sx, y, sy, z, n);
  }
}

}  // namespace mg::cpu
