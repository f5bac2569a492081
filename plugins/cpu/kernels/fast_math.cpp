#include "plugins/cpu/kernels/fast_math.h"

#include "plugins/cpu/kernels/vector_clones.h"

namespace mg::cpu {

MG_VECTOR_CLONES void exp_floats(const float* in, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = fast_exp(in[i]);
}

MG_VECTOR_CLONES void sigmoid_floats(const float* in, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = fast_sigmoid(in[i]);
}

MG_VECTOR_CLONES void tanh_floats(const float* in, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = fast_tanh(in[i]);
}

MG_VECTOR_CLONES void erf_floats(const float* in, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = fast_erf(in[i]);
}

}  // namespace mg::cpu
