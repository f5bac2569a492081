#include "plugins/cpu/kernels/fast_math.h"

// GCC's function multi-versioning: one body per listed target and a resolver that picks
// by the CPU at load. Elsewhere (clang builds the fuzzers) the baseline alone, and under
// ThreadSanitizer too: a resolver linked into an executable runs while the program is
// relocated, before TSan's runtime starts, and crashes in its instrumentation.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__)
#define MG_VECTOR_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MG_VECTOR_CLONES
#endif

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
