#include "gemm.h"

#include <cblas.h>

#include <algorithm>

namespace mg::cpu {

void pin_blas_to_one_thread() { openblas_set_num_threads(1); }

void gemm(ThreadPool& threads, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
          float alpha, const float* a, int64_t lda, const float* b, int64_t ldb, float beta,
          float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  const auto ta = trans_a ? CblasTrans : CblasNoTrans;
  const auto tb = trans_b ? CblasTrans : CblasNoTrans;
  auto call = [&](int64_t rows, int64_t cols, const float* pa, const float* pb, float* pc) {
    cblas_sgemm(CblasRowMajor, ta, tb, static_cast<int>(rows), static_cast<int>(cols),
                static_cast<int>(k), alpha, pa, static_cast<int>(lda), pb, static_cast<int>(ldb),
                beta, pc, static_cast<int>(ldc));
  };
  // Below about this much work a second thread costs more than it saves.
  constexpr int64_t kMinFlopsPerThread = 1 << 17;
  const int64_t work = m * n * std::max<int64_t>(k, 1);
  if (threads.size() == 1 || work < 2 * kMinFlopsPerThread) {
    call(m, n, a, b, c);
    return;
  }
  if (m >= threads.size() * 4) {
    threads.parallel_for(m, 4, [&](int64_t r0, int64_t r1) {
      const float* pa = trans_a ? a + r0 : a + r0 * lda;
      call(r1 - r0, n, pa, b, c + r0 * ldc);
    });
  } else {
    threads.parallel_for(n, 16, [&](int64_t c0, int64_t c1) {
      const float* pb = trans_b ? b + c0 * ldb : b + c0;
      call(m, c1 - c0, a, pb, c + c0);
    });
  }
}

}  // namespace mg::cpu
