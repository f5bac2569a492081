// MatMul (numpy semantics, batched with broadcasting) and Gemm, with the fused bias and
// activation the optimizer may attach ("_relu").
#include <algorithm>
#include <cstring>
#include <vector>

#include "plugins/cpu/kernel.h"
#include "plugins/cpu/kernels/broadcast.h"
#include "plugins/cpu/kernels/gemm.h"
#include "plugins/cpu/kernels/kernels.h"

namespace mg::cpu {
namespace {

// A batch of products is split across threads in pieces of at least this much work.
constexpr int64_t kMinMacsPerPiece = int64_t{1} << 16;

void apply_relu(float* data, int64_t n) {
  for (int64_t i = 0; i < n; ++i) data[i] = data[i] > 0 ? data[i] : 0;
}

void matmul(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if (a.type != ElemType::kFloat || b.type != ElemType::kFloat) ctx.fail("expects float inputs");
  if (a.rank() == 0 || b.rank() == 0) ctx.fail("inputs must not be scalars");
  // 1-D operands are promoted to matrices and the added dimension dropped afterwards.
  Shape sa = a.shape, sb = b.shape;
  if (sa.size() == 1) sa.insert(sa.begin(), 1);
  if (sb.size() == 1) sb.push_back(1);
  const int64_t m = sa[sa.size() - 2], k = sa.back(), n = sb.back();
  if (sb[sb.size() - 2] != k) {
    ctx.fail("inner dimensions differ: " + shape_text(a.shape) + " × " + shape_text(b.shape));
  }
  Shape batch_a(sa.begin(), sa.end() - 2), batch_b(sb.begin(), sb.end() - 2);
  Shape batch = broadcast_shapes(batch_a, batch_b);
  Shape out_shape = batch;
  if (a.rank() > 1) out_shape.push_back(m);
  if (b.rank() > 1) out_shape.push_back(n);
  Tensor& out = ctx.output(0, ElemType::kFloat, out_shape);
  const float* pa = a.data<const float>();
  const float* pb = b.data<const float>();
  float* po = out.data<float>();
  if (batch_b.empty() || num_elements(batch_b) == 1) {
    // B is one matrix: fold A's batch dimensions into its rows, one GEMM.
    if (num_elements(batch_a) == num_elements(batch)) {
      gemm(ctx.threads, false, false, num_elements(batch) * m, n, k, 1.f, pa, k, pb, n, 0.f, po, n);
      if (ctx.node.attr_int("_relu", 0)) apply_relu(po, out.size());
      return;
    }
  }
  // General case: one GEMM per entry of the broadcast batch dimensions (attention's
  // [B·heads, L, L] products: many tiny ones), the entries split across the threads.
  struct Product {
    const float* a;
    const float* b;
    float* out;
  };
  std::vector<Product> products;
  products.reserve(static_cast<std::size_t>(num_elements(batch)));
  for_each_broadcast<2>(
      batch, {&batch_a, &batch_b},
      [&](int64_t o, const std::array<int64_t, 2>& off, int64_t inner,
          const std::array<int64_t, 2>& st) {
        for (int64_t i = 0; i < inner; ++i) {
          products.push_back({pa + (off[0] + i * st[0]) * m * k, pb + (off[1] + i * st[1]) * k * n,
                              po + (o + i) * m * n});
        }
      });
  const int64_t macs = m * n * std::max<int64_t>(k, 1);
  ctx.threads.parallel_for(static_cast<int64_t>(products.size()),
                           std::max<int64_t>(1, kMinMacsPerPiece / std::max<int64_t>(macs, 1)),
                           [&](int64_t begin, int64_t end) {
                             for (int64_t i = begin; i < end; ++i) {
                               const Product& p = products[static_cast<std::size_t>(i)];
                               gemm_on_this_thread(false, false, m, n, k, 1.f, p.a, k, p.b, n, 0.f,
                                                   p.out, n);
                             }
                           });
  if (ctx.node.attr_int("_relu", 0)) apply_relu(po, out.size());
}

void gemm_kernel(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if (a.rank() != 2 || b.rank() != 2) ctx.fail("A and B must be matrices");
  const bool ta = ctx.node.attr_int("transA", 0) != 0;
  const bool tb = ctx.node.attr_int("transB", 0) != 0;
  const float alpha = ctx.node.attr_float("alpha", 1.f);
  float beta = ctx.node.attr_float("beta", 1.f);
  const int64_t m = ta ? a.dim(1) : a.dim(0), k = ta ? a.dim(0) : a.dim(1);
  const int64_t n = tb ? b.dim(0) : b.dim(1);
  if ((tb ? b.dim(1) : b.dim(0)) != k) {
    ctx.fail("inner dimensions differ: A " + shape_text(a.shape) + ", B " + shape_text(b.shape));
  }
  Tensor& out = ctx.output(0, ElemType::kFloat, {m, n});
  float* po = out.data<float>();
  if (ctx.has_input(2) && beta != 0.f) {
    // Broadcast C into the output, then accumulate the product onto it.
    const Tensor& c = ctx.input(2);
    if (!broadcasts_to(c.shape, out.shape)) ctx.fail("C does not broadcast to [M, N]");
    const float* pc = c.data<const float>();
    for_each_broadcast<1>(out.shape, {&c.shape},
                          [&](int64_t o, const std::array<int64_t, 1>& off, int64_t inner,
                              const std::array<int64_t, 1>& st) {
                            for (int64_t i = 0; i < inner; ++i) po[o + i] = pc[off[0] + i * st[0]];
                          });
  } else {
    beta = 0.f;
  }
  gemm(ctx.threads, ta, tb, m, n, k, alpha, a.data<const float>(), a.dim(1), b.data<const float>(),
       b.dim(1), beta, po, n);
  if (ctx.node.attr_int("_relu", 0)) apply_relu(po, out.size());
}

}  // namespace

void register_linalg(OpTable& table) {
  table.add("MatMul", matmul, type_bit(ElemType::kFloat));
  table.add("Gemm", gemm_kernel, type_bit(ElemType::kFloat));
}

}  // namespace mg::cpu
