#include "plugins/cpu/kernels/array_ops.h"

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

}  // namespace mg::cpu
