#pragma once

#include <cstdint>

#include "plugins/cpu/thread_pool.h"

namespace mg::cpu {

// C[M×N] = alpha · op(A)[M×K] · op(B)[K×N] + beta · C, row-major, on oneDNN's sgemm
// (JIT-compiled for the CPU it runs on, AVX-512 included), each call single-threaded,
// with the instance's threads splitting the rows, or the columns when there are too few
// rows. lda/ldb/ldc are row strides.
void gemm(ThreadPool& threads, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
          float alpha, const float* a, int64_t lda, const float* b, int64_t ldb, float beta,
          float* c, int64_t ldc);

// The same on the calling thread alone: for callers that split work across the instance's
// threads themselves (a batch of small products, one per thread).
void gemm_on_this_thread(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                         const float* a, int64_t lda, const float* b, int64_t ldb, float beta,
                         float* c, int64_t ldc);

// oneDNN's sgemm JIT-compiles its kernels on first use, once per process: ~5 ms for the
// first one-row product and ~35 ms for the first with more rows (each transposition its
// own). Called when the backend starts, so that cost does not land on the first requests.
void warm_up_gemm();

}  // namespace mg::cpu
