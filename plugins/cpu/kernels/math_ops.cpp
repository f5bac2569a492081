// Element-wise math beyond the arithmetic in elementwise.cpp: rounding, reciprocal, sign,
// trigonometry, NaN/infinity tests, logic on booleans, the ordered comparisons, Mod, and
// the variadic Min/Max/Sum/Mean (any number of inputs, numpy broadcasting).
#include <cmath>
#include <cstring>

#include "plugins/cpu/kernel.h"
#include "plugins/cpu/kernels/elementwise.h"
#include "plugins/cpu/kernels/kernels.h"

namespace mg::cpu {
namespace {

void floor_kernel(KernelContext& ctx) {
  unary_float(ctx, [](auto v) { return std::floor(v); });
}
void ceil_kernel(KernelContext& ctx) {
  unary_float(ctx, [](auto v) { return std::ceil(v); });
}
void round_kernel(KernelContext& ctx) {
  // Halves to even, as the spec asks (nearbyint in the default rounding mode).
  unary_float(ctx, [](auto v) { return std::nearbyint(v); });
}
void reciprocal(KernelContext& ctx) {
  unary_float(ctx, [](auto v) { return decltype(v)(1) / v; });
}
void sign(KernelContext& ctx) {
  unary_numeric(ctx, [](auto v) {
    using T = decltype(v);
    return v > T(0) ? T(1) : (v < T(0) ? T(-1) : T(0));
  });
}

#define MG_UNARY_MATH(kernel_name, fn)                   \
  void kernel_name(KernelContext& ctx) {                 \
    unary_float(ctx, [](auto v) { return std::fn(v); }); \
  }
MG_UNARY_MATH(sin_kernel, sin)
MG_UNARY_MATH(cos_kernel, cos)
MG_UNARY_MATH(tan_kernel, tan)
MG_UNARY_MATH(asin_kernel, asin)
MG_UNARY_MATH(acos_kernel, acos)
MG_UNARY_MATH(atan_kernel, atan)
MG_UNARY_MATH(sinh_kernel, sinh)
MG_UNARY_MATH(cosh_kernel, cosh)
MG_UNARY_MATH(asinh_kernel, asinh)
MG_UNARY_MATH(acosh_kernel, acosh)
MG_UNARY_MATH(atanh_kernel, atanh)
#undef MG_UNARY_MATH

// A float test into a BOOL tensor of the same shape.
template <typename Test>
void float_test(KernelContext& ctx, Test test) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0, ElemType::kBool, x.shape);
  bool* out = y.data<bool>();
  const int64_t n = x.size();
  if (x.type == ElemType::kFloat) {
    const float* in = x.data<const float>();
    for (int64_t i = 0; i < n; ++i) out[i] = test(in[i]);
  } else if (x.type == ElemType::kDouble) {
    const double* in = x.data<const double>();
    for (int64_t i = 0; i < n; ++i) out[i] = test(in[i]);
  } else {
    ctx.fail("unsupported element type " + elem_name(x.type));
  }
}

void is_nan(KernelContext& ctx) {
  float_test(ctx, [](auto v) { return std::isnan(v); });
}
void is_inf(KernelContext& ctx) {
  const bool negative = ctx.node.attr_int("detect_negative", 1) != 0;
  const bool positive = ctx.node.attr_int("detect_positive", 1) != 0;
  float_test(
      ctx, [negative, positive](auto v) { return std::isinf(v) && (v > 0 ? positive : negative); });
}

void not_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.type != ElemType::kBool) ctx.fail("expects a BOOL input");
  Tensor& y = ctx.output(0, ElemType::kBool, x.shape);
  const bool* in = x.data<const bool>();
  bool* out = y.data<bool>();
  const int64_t n = x.size();
  for (int64_t i = 0; i < n; ++i) out[i] = !in[i];
}

template <typename Op>
void logic(KernelContext& ctx, Op op) {
  if (ctx.input(0).type != ElemType::kBool || ctx.input(1).type != ElemType::kBool) {
    ctx.fail("expects BOOL inputs");
  }
  binary_typed<bool, bool>(ctx, ElemType::kBool, op);
}
void and_kernel(KernelContext& ctx) {
  logic(ctx, [](bool a, bool b) { return a && b; });
}
void or_kernel(KernelContext& ctx) {
  logic(ctx, [](bool a, bool b) { return a || b; });
}
void xor_kernel(KernelContext& ctx) {
  logic(ctx, [](bool a, bool b) { return a != b; });
}

template <typename Op>
void ordered(KernelContext& ctx, Op op) {
  const Tensor& a = ctx.input(0);
  if (a.type != ctx.input(1).type) ctx.fail("inputs have different element types");
  dispatch_numeric(ctx, a.type, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    binary_typed<T, bool>(ctx, ElemType::kBool, op);
  });
}
void greater_or_equal(KernelContext& ctx) {
  ordered(ctx, [](auto x, auto y) { return x >= y; });
}
void less_or_equal(KernelContext& ctx) {
  ordered(ctx, [](auto x, auto y) { return x <= y; });
}

// Mod: integers take the divisor's sign (Python's %) unless fmod=1, which takes the
// dividend's (C's fmod); floats need fmod=1.
void mod(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if (a.type != b.type) ctx.fail("inputs have different element types");
  const bool c_style = ctx.node.attr_int("fmod", 0) != 0;
  if ((a.type == ElemType::kFloat || a.type == ElemType::kDouble) && !c_style) {
    ctx.fail("floating-point Mod needs fmod=1");
  }
  if (a.type == ElemType::kInt32 || a.type == ElemType::kInt64) {
    const int64_t n = b.size();
    for (int64_t i = 0; i < n; ++i) {
      if (b.int_at(i) == 0) ctx.fail("integer modulo by zero");
    }
  }
  dispatch_numeric(ctx, a.type, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    binary_typed<T, T>(ctx, a.type, [&](T x, T y) -> T {
      if constexpr (std::is_floating_point_v<T>) {
        return std::fmod(x, y);
      } else {
        T r = x % y;
        if (!c_style && r != 0 && ((r < 0) != (y < 0))) r += y;
        return r;
      }
    });
  });
}

// Min, Max, Sum, Mean over one or more inputs broadcast together: the output starts as
// input 0 broadcast to the final shape, then folds in each further input in place.
template <typename Op>
void variadic(KernelContext& ctx, Op op, bool mean) {
  const std::size_t count = ctx.input_count();
  if (count == 0) ctx.fail("needs at least one input");
  const Tensor& first = ctx.input(0);
  Shape shape = first.shape;
  for (std::size_t k = 1; k < count; ++k) {
    if (ctx.input(k).type != first.type) ctx.fail("inputs have different element types");
    shape = broadcast_shapes(shape, ctx.input(k).shape);
  }
  Tensor& out = ctx.output(0, first.type, shape);
  dispatch_numeric(ctx, first.type, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    T* po = out.data<T>();
    const T* p0 = first.data<const T>();
    for_each_broadcast<1>(out.shape, {&first.shape},
                          [&](int64_t o, const std::array<int64_t, 1>& off, int64_t inner,
                              const std::array<int64_t, 1>& st) {
                            for (int64_t i = 0; i < inner; ++i) po[o + i] = p0[off[0] + i * st[0]];
                          });
    for (std::size_t k = 1; k < count; ++k) {
      const Tensor& in = ctx.input(k);
      const T* pk = in.data<const T>();
      for_each_broadcast<1>(out.shape, {&in.shape},
                            [&](int64_t o, const std::array<int64_t, 1>& off, int64_t inner,
                                const std::array<int64_t, 1>& st) {
                              for (int64_t i = 0; i < inner; ++i) {
                                po[o + i] = op(po[o + i], pk[off[0] + i * st[0]]);
                              }
                            });
    }
    if (mean) {
      const int64_t n = out.size();
      for (int64_t i = 0; i < n; ++i) po[i] = static_cast<T>(po[i] / static_cast<T>(count));
    }
  });
}

void min_kernel(KernelContext& ctx) {
  // NaN wins, as in numpy's minimum (std::min would keep whichever came first).
  variadic(
      ctx, [](auto a, auto b) { return a != a || a < b ? a : b; }, false);
}
void max_kernel(KernelContext& ctx) {
  variadic(
      ctx, [](auto a, auto b) { return a != a || a > b ? a : b; }, false);
}
void sum_kernel(KernelContext& ctx) {
  variadic(
      ctx, [](auto a, auto b) { return a + b; }, false);
}
void mean_kernel(KernelContext& ctx) {
  variadic(
      ctx, [](auto a, auto b) { return a + b; }, true);
}

}  // namespace

void register_math(OpTable& table) {
  table.add("Floor", floor_kernel, kFloats);
  table.add("Ceil", ceil_kernel, kFloats);
  table.add("Round", round_kernel, kFloats);
  table.add("Reciprocal", reciprocal, kFloats);
  table.add("Sign", sign, kNumeric);
  table.add("Sin", sin_kernel, kFloats);
  table.add("Cos", cos_kernel, kFloats);
  table.add("Tan", tan_kernel, kFloats);
  table.add("Asin", asin_kernel, kFloats);
  table.add("Acos", acos_kernel, kFloats);
  table.add("Atan", atan_kernel, kFloats);
  table.add("Sinh", sinh_kernel, kFloats);
  table.add("Cosh", cosh_kernel, kFloats);
  table.add("Asinh", asinh_kernel, kFloats);
  table.add("Acosh", acosh_kernel, kFloats);
  table.add("Atanh", atanh_kernel, kFloats);
  table.add("IsNaN", is_nan, kBoolType);
  table.add("IsInf", is_inf, kBoolType);
  table.add("Not", not_kernel, kBoolType);
  table.add("And", and_kernel, kBoolType);
  table.add("Or", or_kernel, kBoolType);
  table.add("Xor", xor_kernel, kBoolType);
  table.add("GreaterOrEqual", greater_or_equal, kBoolType);
  table.add("LessOrEqual", less_or_equal, kBoolType);
  table.add("Mod", mod, kNumeric);
  table.add("Min", min_kernel, kNumeric);
  table.add("Max", max_kernel, kNumeric);
  table.add("Sum", sum_kernel, kNumeric);
  table.add("Mean", mean_kernel, kNumeric);
}

}  // namespace mg::cpu
