#include "plugins/cpu/kernels/gemm.h"

#include <dnnl.h>

#include <algorithm>
#include <vector>

#include "plugins/cpu/cpu_error.h"
#include "plugins/cpu/kernels/onednn.h"

namespace mg::cpu {
namespace {

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  use_one_openmp_thread();
  dnnl_status_t status = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a,
                                    lda, b, ldb, beta, c, ldc);
  if (status != dnnl_success) {
    throw CpuError(CpuError::kInternal,
                   "oneDNN sgemm failed with status " + std::to_string(status));
  }
}

}  // namespace

void gemm_on_this_thread(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                         const float* a, int64_t lda, const float* b, int64_t ldb, float beta,
                         float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void gemm(ThreadPool& threads, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
          float alpha, const float* a, int64_t lda, const float* b, int64_t ldb, float beta,
          float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  // Below about this much work a second thread costs more than it saves: each thread
  // repacks the shared operand. (A transformer's projections at batch 8, 0.5-1.5M
  // multiply-adds, gain from two threads since the pool hands a piece to a spinning worker
  // without a wake-up: small BERT b8 t2 273 -> 225 us with the batched MatMul split.)
  constexpr int64_t kMinMacsPerThread = int64_t{1} << 18;
  const int64_t work = m * n * std::max<int64_t>(k, 1);
  if (threads.size() == 1 || work < 2 * kMinMacsPerThread) {
    sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  if (m >= threads.size() * 4) {
    threads.parallel_for(m, 4, [&](int64_t r0, int64_t r1) {
      const float* pa = trans_a ? a + r0 : a + r0 * lda;
      sgemm(trans_a, trans_b, r1 - r0, n, k, alpha, pa, lda, b, ldb, beta, c + r0 * ldc, ldc);
    });
  } else {
    threads.parallel_for(n, 16, [&](int64_t c0, int64_t c1) {
      const float* pb = trans_b ? b + c0 * ldb : b + c0;
      sgemm(trans_a, trans_b, m, c1 - c0, k, alpha, a, lda, pb, ldb, beta, c + c0, ldc);
    });
  }
}

void warm_up_gemm() {
  std::vector<float> a(16 * 8, 0.f), b(8 * 8, 0.f), c(16 * 8);
  for (bool trans_b : {false, true}) {
    for (int64_t rows : {1, 16}) {
      sgemm(false, trans_b, rows, 8, 8, 1.f, a.data(), 8, b.data(), 8, 0.f, c.data(), 8);
    }
  }
}

}  // namespace mg::cpu
