// The loops element-wise kernels share: typed dispatch, numpy-broadcast binary
// operations, and unary maps (split across the instance's threads for FP32). Each loop
// reads the element count once: Tensor::size() multiplies the shape out on every call.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <type_traits>

#include "plugins/cpu/kernel.h"
#include "plugins/cpu/kernels/array_ops.h"
#include "plugins/cpu/kernels/broadcast.h"
#include "plugins/cpu/layout.h"

namespace mg::cpu {

// Calls fn with a typed null pointer for the tensor's element type (numeric types only).
template <typename Fn>
void dispatch_numeric(const KernelContext& ctx, ElemType type, Fn&& fn) {
  switch (type) {
    case ElemType::kFloat:
      return fn(static_cast<float*>(nullptr));
    case ElemType::kDouble:
      return fn(static_cast<double*>(nullptr));
    case ElemType::kInt32:
      return fn(static_cast<int32_t*>(nullptr));
    case ElemType::kInt64:
      return fn(static_cast<int64_t*>(nullptr));
    default:
      ctx.fail("unsupported element type " + elem_name(type));
  }
}

// The shape of `t` in channel-last order (N, H, W, C) for an element-wise kernel
// broadcasting channel-last inputs: t's own when it is held channel-last (or `as_output`,
// for the output being written), else t aligned to rank 4 — which must be laid out the
// same in both orders (same_in_both_orders), as the layout pass ensures.
Shape channels_last_order(const KernelContext& ctx, const Tensor& t, bool as_output = false);

// `float_op`, when given, names op for FP32 inputs and outputs: their runs then go through
// binary_floats (array_ops.h), compiled for the CPU's widest vectors.
template <typename T, typename R, typename Op>
void binary_typed(KernelContext& ctx, ElemType out_type, Op op,
                  std::optional<FloatOp> float_op = std::nullopt) {
  constexpr bool kFloats = std::is_same_v<T, float> && std::is_same_v<R, float>;
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  Tensor& out = ctx.output(0, out_type, broadcast_shapes(a.shape, b.shape));
  const T* pa = a.data<const T>();
  const T* pb = b.data<const T>();
  R* po = out.data<R>();
  // Channel-last inputs (layout.h): broadcast in (N, H, W, C) order, the output too.
  Shape a_order = a.shape, b_order = b.shape, out_order = out.shape;
  if ((a.channels_last && !same_in_both_orders(a.shape)) ||
      (b.channels_last && !same_in_both_orders(b.shape))) {
    a_order = channels_last_order(ctx, a);
    b_order = channels_last_order(ctx, b);
    out_order = channels_last_order(ctx, out, true);
    out.channels_last = true;
  }
  if (a.shape == b.shape && a.channels_last == b.channels_last) {  // no broadcasting at all
    const int64_t n = out.size();
    if constexpr (std::is_same_v<T, float>) {
      ctx.threads.parallel_for(n, 1 << 14, [&](int64_t begin, int64_t end) {
        if constexpr (kFloats) {
          if (float_op) {
            binary_floats(*float_op, pa + begin, 1, pb + begin, 1, po + begin, end - begin);
            return;
          }
        }
        for (int64_t i = begin; i < end; ++i) po[i] = op(pa[i], pb[i]);
      });
    } else {
      for (int64_t i = 0; i < n; ++i) po[i] = op(pa[i], pb[i]);
    }
    return;
  }
  // Runs of the innermost dimension: both inputs varying, or one a single value (a
  // per-channel scale against [N, C, H, W] is N·C runs of H·W), as loops that vectorise.
  auto runs = [&](int64_t o, const std::array<int64_t, 2>& off, int64_t inner,
                  const std::array<int64_t, 2>& st) {
    const T* x = pa + off[0];
    const T* y = pb + off[1];
    R* z = po + o;
    if constexpr (kFloats) {
      if (float_op) {
        binary_floats(*float_op, x, st[0], y, st[1], z, inner);
        return;
      }
    }
    if (st[0] == 1 && st[1] == 1) {
      for (int64_t i = 0; i < inner; ++i) z[i] = op(x[i], y[i]);
    } else if (st[0] == 1) {
      const T y0 = *y;
      for (int64_t i = 0; i < inner; ++i) z[i] = op(x[i], y0);
    } else if (st[1] == 1) {
      const T x0 = *x;
      for (int64_t i = 0; i < inner; ++i) z[i] = op(x0, y[i]);
    } else {
      const R z0 = op(*x, *y);
      for (int64_t i = 0; i < inner; ++i) z[i] = z0;
    }
  };
  if constexpr (std::is_same_v<T, float>) {
    for_each_broadcast<2>(ctx.threads, 1 << 14, out_order, {&a_order, &b_order}, runs);
  } else {
    for_each_broadcast<2>(out_order, {&a_order, &b_order}, runs);
  }
}

// Unary float kernels (float and double).
template <typename Op>
void unary_float(KernelContext& ctx, Op op) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0, x.type, x.shape);
  const int64_t n = x.size();
  if (x.type == ElemType::kFloat) {
    const float* in = x.data<const float>();
    float* out = y.data<float>();
    ctx.threads.parallel_for(n, 1 << 14, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) out[i] = static_cast<float>(op(in[i]));
    });
  } else if (x.type == ElemType::kDouble) {
    const double* in = x.data<const double>();
    double* out = y.data<double>();
    for (int64_t i = 0; i < n; ++i) out[i] = op(in[i]);
  } else {
    ctx.fail("unsupported element type " + elem_name(x.type));
  }
}

// Unary kernels over every numeric type.
template <typename Op>
void unary_numeric(KernelContext& ctx, Op op) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0, x.type, x.shape);
  dispatch_numeric(ctx, x.type, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const T* in = x.data<const T>();
    T* out = y.data<T>();
    const int64_t n = x.size();
    if constexpr (std::is_same_v<T, float>) {
      ctx.threads.parallel_for(n, 1 << 14, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) out[i] = static_cast<T>(op(in[i]));
      });
    } else {
      for (int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(op(in[i]));
    }
  });
}

}  // namespace mg::cpu
