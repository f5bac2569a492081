// Element-wise kernels: binary arithmetic and comparison with numpy broadcasting, unary
// math and activations, Clip, Where, Cast, Identity.
#include "plugins/cpu/kernels/elementwise.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "plugins/cpu/kernel.h"
#include "plugins/cpu/kernels/broadcast.h"
#include "plugins/cpu/kernels/fast_math.h"
#include "plugins/cpu/kernels/kernels.h"
#include "plugins/cpu/layout.h"

namespace mg::cpu {

Shape channels_last_order(const KernelContext& ctx, const Tensor& t, bool as_output) {
  if (t.channels_last || as_output) {
    if (t.rank() != 4) ctx.fail("a channel-last tensor must be 4-D, not " + shape_text(t.shape));
    return {t.dim(0), t.dim(2), t.dim(3), t.dim(1)};
  }
  if (!same_in_both_orders(t.shape)) {
    ctx.fail("a channel-first " + shape_text(t.shape) + " cannot broadcast against a " +
             "channel-last tensor");
  }
  Shape aligned(4 - std::min<std::size_t>(t.shape.size(), 4), 1);
  aligned.insert(aligned.end(), t.shape.begin(), t.shape.end());
  return {aligned[0], aligned[2], aligned[3], aligned[1]};
}

Shape broadcast_shapes(const Shape& a, const Shape& b) {
  Shape out(std::max(a.size(), b.size()), 1);
  for (std::size_t j = 0; j < out.size(); ++j) {
    int64_t da = j < a.size() ? a[a.size() - 1 - j] : 1;
    int64_t db = j < b.size() ? b[b.size() - 1 - j] : 1;
    if (da != db && da != 1 && db != 1) {
      throw CpuError(CpuError::kInvalid,
                     "shapes " + shape_text(a) + " and " + shape_text(b) + " do not broadcast");
    }
    out[out.size() - 1 - j] = da == 1 ? db : da;
  }
  return out;
}

bool broadcasts_to(const Shape& from, const Shape& to) {
  if (from.size() > to.size()) return false;
  for (std::size_t j = 0; j < from.size(); ++j) {
    const int64_t d = from[from.size() - 1 - j];
    if (d != 1 && d != to[to.size() - 1 - j]) return false;
  }
  return true;
}

namespace {

template <typename Op>
void arithmetic(KernelContext& ctx, Op op, FloatOp float_op) {
  const Tensor& a = ctx.input(0);
  if (a.type != ctx.input(1).type) ctx.fail("inputs have different element types");
  dispatch_numeric(ctx, a.type, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    binary_typed<T, T>(
        ctx, a.type, [&](T x, T y) { return static_cast<T>(op(x, y)); }, float_op);
  });
}

template <typename Op>
void comparison(KernelContext& ctx, Op op) {
  const Tensor& a = ctx.input(0);
  if (a.type == ElemType::kBool) {
    binary_typed<bool, bool>(ctx, ElemType::kBool, op);
    return;
  }
  dispatch_numeric(ctx, a.type, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    binary_typed<T, bool>(ctx, ElemType::kBool, op);
  });
}

void add(KernelContext& ctx) {
  arithmetic(
      ctx, [](auto x, auto y) { return x + y; }, FloatOp::kAdd);
}
void sub(KernelContext& ctx) {
  arithmetic(
      ctx, [](auto x, auto y) { return x - y; }, FloatOp::kSub);
}
void mul(KernelContext& ctx) {
  arithmetic(
      ctx, [](auto x, auto y) { return x * y; }, FloatOp::kMul);
}
void div(KernelContext& ctx) {
  const Tensor& b = ctx.input(1);
  if (b.type == ElemType::kInt32 || b.type == ElemType::kInt64) {
    for (int64_t i = 0; i < b.size(); ++i) {
      if (b.int_at(i) == 0) ctx.fail("integer division by zero");
    }
  }
  arithmetic(
      ctx, [](auto x, auto y) { return x / y; }, FloatOp::kDiv);
}

void pow_kernel(KernelContext& ctx) {
  const Tensor& base = ctx.input(0);
  const Tensor& exponent = ctx.input(1);
  // The exponent may have another type than the base (Pow-12+): convert it to double.
  Tensor exp_as_base = exponent;
  if (exponent.type != base.type) {
    exp_as_base = Tensor::owned(base.type, exponent.shape);
    dispatch_numeric(ctx, exponent.type, [&](auto* from) {
      using F = std::remove_pointer_t<decltype(from)>;
      dispatch_numeric(ctx, base.type, [&](auto* to) {
        using T = std::remove_pointer_t<decltype(to)>;
        for (int64_t i = 0; i < exponent.size(); ++i) {
          exp_as_base.data<T>()[i] = static_cast<T>(exponent.data<const F>()[i]);
        }
      });
    });
  }
  std::vector<const Tensor*> saved = ctx.inputs;
  ctx.inputs[1] = &exp_as_base;
  dispatch_numeric(ctx, base.type, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    binary_typed<T, T>(ctx, base.type, [](T x, T y) {
      return static_cast<T>(std::pow(static_cast<double>(x), static_cast<double>(y)));
    });
  });
  ctx.inputs = saved;
}

void equal(KernelContext& ctx) {
  comparison(ctx, [](auto x, auto y) { return x == y; });
}
void greater(KernelContext& ctx) {
  comparison(ctx, [](auto x, auto y) { return x > y; });
}
void less(KernelContext& ctx) {
  comparison(ctx, [](auto x, auto y) { return x < y; });
}

void sqrt_kernel(KernelContext& ctx) {
  unary_float(ctx, [](auto v) { return std::sqrt(v); });
}
// A float kernel over whole arrays (fast_math.h: vectorised for the CPU), split across
// the threads; doubles element by element with `op`.
template <typename Op>
void unary_float_arrays(KernelContext& ctx, void (*floats)(const float*, float*, int64_t), Op op) {
  const Tensor& x = ctx.input(0);
  if (x.type != ElemType::kFloat) {
    unary_float(ctx, op);
    return;
  }
  Tensor& y = ctx.output(0, x.type, x.shape);
  const float* in = x.data<const float>();
  float* out = y.data<float>();
  ctx.threads.parallel_for(x.size(), 1 << 14,
                           [&](int64_t b, int64_t e) { floats(in + b, out + b, e - b); });
}

void exp_kernel(KernelContext& ctx) {
  unary_float_arrays(ctx, exp_floats, [](auto v) { return std::exp(v); });
}
void log_kernel(KernelContext& ctx) {
  unary_float(ctx, [](auto v) { return std::log(v); });
}
void erf_kernel(KernelContext& ctx) {
  unary_float_arrays(ctx, erf_floats, [](auto v) { return std::erf(v); });
}
void tanh_kernel(KernelContext& ctx) {
  unary_float_arrays(ctx, tanh_floats, [](auto v) { return std::tanh(v); });
}
void sigmoid(KernelContext& ctx) {
  unary_float_arrays(ctx, sigmoid_floats, [](auto v) {
    // Split by sign so exp never overflows.
    using T = decltype(v);
    if (v >= 0) return T(1) / (T(1) + std::exp(-v));
    T e = std::exp(v);
    return e / (T(1) + e);
  });
}
void leaky_relu(KernelContext& ctx) {
  const float alpha = ctx.node.attr_float("alpha", 0.01f);
  unary_float(ctx, [alpha](auto v) { return v >= 0 ? v : v * alpha; });
}
void neg(KernelContext& ctx) {
  unary_numeric(ctx, [](auto v) { return -v; });
}
void abs_kernel(KernelContext& ctx) {
  unary_numeric(ctx, [](auto v) { return v < 0 ? -v : v; });
}
void relu(KernelContext& ctx) {
  unary_numeric(ctx, [](auto v) { return v > 0 ? v : decltype(v)(0); });
}

void clip(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  dispatch_numeric(ctx, x.type, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    T lo = std::numeric_limits<T>::lowest(), hi = std::numeric_limits<T>::max();
    if (ctx.node.opset < 11) {
      lo = static_cast<T>(ctx.node.attr_float("min", -3.402823e+38f));
      hi = static_cast<T>(ctx.node.attr_float("max", 3.402823e+38f));
    } else {
      if (ctx.has_input(1)) lo = ctx.input(1).data<const T>()[0];
      if (ctx.has_input(2)) hi = ctx.input(2).data<const T>()[0];
    }
    Tensor& y = ctx.output(0, x.type, x.shape);
    const T* in = x.data<const T>();
    T* out = y.data<T>();
    const int64_t n = x.size();
    for (int64_t i = 0; i < n; ++i) out[i] = std::min(std::max(in[i], lo), hi);
  });
}

void where(KernelContext& ctx) {
  const Tensor& cond = ctx.input(0);
  const Tensor& x = ctx.input(1);
  const Tensor& y = ctx.input(2);
  if (x.type != y.type) ctx.fail("X and Y have different element types");
  Shape shape = broadcast_shapes(broadcast_shapes(cond.shape, x.shape), y.shape);
  Tensor& out = ctx.output(0, x.type, shape);
  const std::size_t size = elem_size(x.type);
  const bool* c = cond.data<const bool>();
  for_each_broadcast<3>(out.shape, {&cond.shape, &x.shape, &y.shape},
                        [&](int64_t o, const std::array<int64_t, 3>& off, int64_t inner,
                            const std::array<int64_t, 3>& st) {
                          for (int64_t i = 0; i < inner; ++i) {
                            const std::byte* from = c[off[0] + i * st[0]]
                                                        ? x.bytes + (off[1] + i * st[1]) * size
                                                        : y.bytes + (off[2] + i * st[2]) * size;
                            std::memcpy(out.bytes + (o + i) * size, from, size);
                          }
                        });
}

template <typename From, typename To>
void convert(const Tensor& x, Tensor& y) {
  const From* in = x.data<const From>();
  To* out = y.data<To>();
  const int64_t n = x.size();
  for (int64_t i = 0; i < n; ++i) {
    if constexpr (std::is_same_v<To, bool>) {
      out[i] = in[i] != From(0);
    } else if constexpr (std::is_floating_point_v<From> && std::is_integral_v<To>) {
      out[i] = std::isfinite(in[i]) ? static_cast<To>(in[i]) : To(0);
    } else {
      out[i] = static_cast<To>(in[i]);
    }
  }
}

template <typename From>
void convert_from(KernelContext& ctx, const Tensor& x, Tensor& y) {
  switch (y.type) {
    case ElemType::kFloat:
      return convert<From, float>(x, y);
    case ElemType::kDouble:
      return convert<From, double>(x, y);
    case ElemType::kInt32:
      return convert<From, int32_t>(x, y);
    case ElemType::kInt64:
      return convert<From, int64_t>(x, y);
    case ElemType::kInt8:
      return convert<From, int8_t>(x, y);
    case ElemType::kUint8:
      return convert<From, uint8_t>(x, y);
    case ElemType::kBool:
      return convert<From, bool>(x, y);
    default:
      ctx.fail("cannot cast to " + elem_name(y.type));
  }
}

void cast(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  auto to = static_cast<ElemType>(ctx.node.attr_int("to", 0));
  if (elem_size(to) == 0) ctx.fail("cannot cast to " + elem_name(to));
  if (to == x.type) {
    ctx.alias_output(0, x, x.shape);
    return;
  }
  Tensor& y = ctx.output(0, to, x.shape);
  switch (x.type) {
    case ElemType::kFloat:
      return convert_from<float>(ctx, x, y);
    case ElemType::kDouble:
      return convert_from<double>(ctx, x, y);
    case ElemType::kInt32:
      return convert_from<int32_t>(ctx, x, y);
    case ElemType::kInt64:
      return convert_from<int64_t>(ctx, x, y);
    case ElemType::kInt8:
      return convert_from<int8_t>(ctx, x, y);
    case ElemType::kUint8:
      return convert_from<uint8_t>(ctx, x, y);
    case ElemType::kBool:
      return convert_from<bool>(ctx, x, y);
    default:
      ctx.fail("cannot cast from " + elem_name(x.type));
  }
}

void identity(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  ctx.alias_output(0, x, x.shape);
}

}  // namespace

void register_elementwise(OpTable& table) {
  table.add("Add", add, kNumeric);
  table.add("Sub", sub, kNumeric);
  table.add("Mul", mul, kNumeric);
  table.add("Div", div, kNumeric);
  table.add("Pow", pow_kernel, kNumeric);
  table.add("Equal", equal, kNumeric | kBoolType);
  table.add("Greater", greater, kNumeric | kBoolType);
  table.add("Less", less, kNumeric | kBoolType);
  table.add("Sqrt", sqrt_kernel, kFloats);
  table.add("Exp", exp_kernel, kFloats);
  table.add("Log", log_kernel, kFloats);
  table.add("Erf", erf_kernel, kFloats);
  table.add("Tanh", tanh_kernel, kFloats);
  table.add("Sigmoid", sigmoid, kFloats);
  table.add("LeakyRelu", leaky_relu, kFloats);
  table.add("Neg", neg, kNumeric);
  table.add("Abs", abs_kernel, kNumeric);
  table.add("Relu", relu, kNumeric);
  table.add("Clip", clip, kNumeric);
  table.add("Where", where, kAllTypes);
  table.add("Cast", cast, kAllTypes);
  table.add("Identity", identity, kAllTypes);
}

}  // namespace mg::cpu
