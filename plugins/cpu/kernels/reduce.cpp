// The Reduce* operators (Sum, Mean, Max, Min, Prod, L1, L2, SumSquare, LogSum,
// LogSumExp), ArgMax and ArgMin.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "plugins/cpu/kernel.h"
#include "plugins/cpu/kernels/kernels.h"

namespace mg::cpu {
namespace {

enum class Reduction { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kSumSquare, kLogSum, kLogSumExp };

// Sum, Mean and Max run in the input's own type along contiguous axes (the fast path
// below); every reduction also runs through reduce_general, which accumulates floats in
// double (LogSumExp sums exp(x - max) after a max pass, so it never overflows).
bool has_fast_path(Reduction kind) {
  return kind == Reduction::kSum || kind == Reduction::kMean || kind == Reduction::kMax;
}

// The reduced axes form one contiguous block [first, last]: the input is [outer, len,
// inner] and the reduction runs over len with unit-stride inner loops.
template <typename T>
bool reduce_contiguous(const Tensor& x, Tensor& y, const std::vector<bool>& reduced,
                       Reduction kind) {
  int64_t first = -1, last = -1;
  for (int64_t d = 0; d < x.rank(); ++d) {
    if (!reduced[static_cast<std::size_t>(d)]) continue;
    if (first >= 0 && d != last + 1) return false;
    if (first < 0) first = d;
    last = d;
  }
  if (first < 0) return false;
  int64_t outer = 1, len = 1, inner = 1;
  for (int64_t d = 0; d < x.rank(); ++d) (d < first ? outer : d <= last ? len : inner) *= x.dim(d);
  const T* in = x.data<const T>();
  T* out = y.data<T>();
  for (int64_t o = 0; o < outer; ++o) {
    T* acc = out + o * inner;
    const T* src = in + o * len * inner;
    std::copy(src, src + inner, acc);
    for (int64_t j = 1; j < len; ++j) {
      const T* row = src + j * inner;
      if (kind == Reduction::kMax) {
        for (int64_t i = 0; i < inner; ++i) acc[i] = std::max(acc[i], row[i]);
      } else {
        for (int64_t i = 0; i < inner; ++i) acc[i] += row[i];
      }
    }
    if (kind == Reduction::kMean) {
      for (int64_t i = 0; i < inner; ++i) acc[i] = static_cast<T>(acc[i] / static_cast<T>(len));
    }
  }
  return true;
}

// Calls fn(input offset, output offset) for every input element, in input order.
template <typename Fn>
void walk_reduced(const Tensor& x, const std::vector<bool>& reduced, Fn&& fn) {
  const int64_t rank = x.rank();
  std::vector<int64_t> out_stride(static_cast<std::size_t>(rank), 0);
  int64_t stride = 1;
  for (int64_t d = rank - 1; d >= 0; --d) {
    if (!reduced[static_cast<std::size_t>(d)]) {
      out_stride[static_cast<std::size_t>(d)] = stride;
      stride *= x.dim(d);
    }
  }
  std::vector<int64_t> counter(static_cast<std::size_t>(rank), 0);
  int64_t o = 0;
  const int64_t n = x.size();
  for (int64_t i = 0; i < n; ++i) {
    fn(i, o);
    for (int64_t d = rank - 1; d >= 0; --d) {
      auto du = static_cast<std::size_t>(d);
      ++counter[du];
      o += out_stride[du];
      if (counter[du] < x.dim(d)) break;
      o -= out_stride[du] * x.dim(d);
      counter[du] = 0;
    }
  }
}

template <typename T>
void reduce_general(const Tensor& x, Tensor& y, const std::vector<bool>& reduced, Reduction kind) {
  using A = std::conditional_t<std::is_floating_point_v<T>, double, T>;
  const int64_t outputs = y.size();
  const int64_t count = outputs > 0 ? x.size() / outputs : 0;
  const T* in = x.data<const T>();
  std::vector<A> acc(static_cast<std::size_t>(outputs));
  std::vector<A> shift;  // LogSumExp: each output's max
  A init = A(0);
  if (kind == Reduction::kMax || kind == Reduction::kLogSumExp) {
    init = std::numeric_limits<A>::has_infinity ? -std::numeric_limits<A>::infinity()
                                                : std::numeric_limits<A>::lowest();
  } else if (kind == Reduction::kMin) {
    init = std::numeric_limits<A>::has_infinity ? std::numeric_limits<A>::infinity()
                                                : std::numeric_limits<A>::max();
  } else if (kind == Reduction::kProd) {
    init = A(1);
  }
  std::fill(acc.begin(), acc.end(), init);
  if (kind == Reduction::kLogSumExp) {
    walk_reduced(x, reduced, [&](int64_t i, int64_t o) { acc[o] = std::max(acc[o], A(in[i])); });
    shift.swap(acc);
    for (auto& s : shift) s = std::isfinite(static_cast<double>(s)) ? s : A(0);
    acc.assign(static_cast<std::size_t>(outputs), A(0));
  }
  walk_reduced(x, reduced, [&](int64_t i, int64_t o) {
    const A v = static_cast<A>(in[i]);
    A& a = acc[static_cast<std::size_t>(o)];
    switch (kind) {
      case Reduction::kMax:
        a = std::max(a, v);
        break;
      case Reduction::kMin:
        a = std::min(a, v);
        break;
      case Reduction::kProd:
        a *= v;
        break;
      case Reduction::kL1:
        a += v < A(0) ? A(-v) : v;
        break;
      case Reduction::kL2:
      case Reduction::kSumSquare:
        a += v * v;
        break;
      case Reduction::kLogSumExp:
        a += static_cast<A>(std::exp(static_cast<double>(v - shift[static_cast<std::size_t>(o)])));
        break;
      default:  // Sum, Mean, LogSum
        a += v;
    }
  });
  T* out = y.data<T>();
  for (int64_t o = 0; o < outputs; ++o) {
    const A a = acc[static_cast<std::size_t>(o)];
    double r = static_cast<double>(a);
    switch (kind) {
      case Reduction::kMean:  // integers divide as integers, as before
        if constexpr (std::is_floating_point_v<T>) {
          r = count > 0 ? r / static_cast<double>(count) : r;
        } else {
          r = static_cast<double>(a / std::max<A>(A(count), A(1)));
        }
        break;
      case Reduction::kL2:
        r = std::sqrt(r);
        break;
      case Reduction::kLogSum:
        r = std::log(r);
        break;
      case Reduction::kLogSumExp:
        r = std::log(r) + static_cast<double>(shift[static_cast<std::size_t>(o)]);
        break;
      default:
        break;
    }
    if constexpr (std::is_floating_point_v<T>) {
      out[o] = static_cast<T>(r);
    } else if (kind == Reduction::kL2 || kind == Reduction::kLogSum ||
               kind == Reduction::kLogSumExp || kind == Reduction::kMean) {
      out[o] = static_cast<T>(r);
    } else {
      out[o] = static_cast<T>(a);  // exact integer sums and products
    }
  }
}

template <typename T>
void reduce_typed(const Tensor& x, Tensor& y, const std::vector<bool>& reduced, Reduction kind) {
  if (x.size() > 0 && has_fast_path(kind) && reduce_contiguous<T>(x, y, reduced, kind)) return;
  reduce_general<T>(x, y, reduced, kind);
}

template <Reduction kKind>
void reduce(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> axes = ctx.node.attr_ints("axes");
  // ReduceSum takes its axes as an input from opset 13 (the others from 18, above the
  // supported range).
  const bool axes_from_input = ctx.node.op_type == "ReduceSum" && ctx.node.opset >= 13;
  if (axes_from_input) axes = ctx.has_input(1) ? ctx.input(1).ints() : std::vector<int64_t>{};
  const bool keepdims = ctx.node.attr_int("keepdims", 1) != 0;
  if (axes.empty() && ctx.node.attr_int("noop_with_empty_axes", 0) != 0) {
    ctx.alias_output(0, x, x.shape);
    return;
  }
  std::vector<bool> reduced(static_cast<std::size_t>(x.rank()), axes.empty());
  for (int64_t axis : axes) reduced[static_cast<std::size_t>(ctx.axis(axis, x.rank()))] = true;
  Shape shape;
  for (int64_t d = 0; d < x.rank(); ++d) {
    if (!reduced[static_cast<std::size_t>(d)]) {
      shape.push_back(x.dim(d));
    } else if (keepdims) {
      shape.push_back(1);
    }
  }
  if ((kKind == Reduction::kMax || kKind == Reduction::kMin) && x.size() == 0) {
    ctx.fail("cannot take the max or min of nothing");
  }
  Tensor& y = ctx.output(0, x.type, shape);
  switch (x.type) {
    case ElemType::kFloat:
      return reduce_typed<float>(x, y, reduced, kKind);
    case ElemType::kDouble:
      return reduce_typed<double>(x, y, reduced, kKind);
    case ElemType::kInt32:
      return reduce_typed<int32_t>(x, y, reduced, kKind);
    case ElemType::kInt64:
      return reduce_typed<int64_t>(x, y, reduced, kKind);
    default:
      ctx.fail("unsupported element type " + elem_name(x.type));
  }
}

template <typename T, bool kMin>
void argmax_typed(const Tensor& x, Tensor& y, int64_t axis, bool last) {
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.dim(d);
  for (int64_t d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
  const int64_t len = x.dim(axis);
  const T* in = x.data<const T>();
  int64_t* out = y.data<int64_t>();
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const T* src = in + o * len * inner + i;
      int64_t best = 0;
      for (int64_t j = 1; j < len; ++j) {
        const T v = src[j * inner], b = src[best * inner];
        if ((kMin ? v < b : v > b) || (last && v == b)) {
          best = j;
        }
      }
      out[o * inner + i] = best;
    }
  }
}

template <bool kMin>
void argmax(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int64_t axis = ctx.axis(ctx.node.attr_int("axis", 0), x.rank());
  if (x.dim(axis) == 0) ctx.fail("cannot take the argmax or argmin of an empty axis");
  Shape shape = x.shape;
  if (ctx.node.attr_int("keepdims", 1)) {
    shape[static_cast<std::size_t>(axis)] = 1;
  } else {
    shape.erase(shape.begin() + axis);
  }
  Tensor& y = ctx.output(0, ElemType::kInt64, shape);
  const bool last = ctx.node.attr_int("select_last_index", 0) != 0;
  switch (x.type) {
    case ElemType::kFloat:
      return argmax_typed<float, kMin>(x, y, axis, last);
    case ElemType::kDouble:
      return argmax_typed<double, kMin>(x, y, axis, last);
    case ElemType::kInt32:
      return argmax_typed<int32_t, kMin>(x, y, axis, last);
    case ElemType::kInt64:
      return argmax_typed<int64_t, kMin>(x, y, axis, last);
    default:
      ctx.fail("unsupported element type " + elem_name(x.type));
  }
}

}  // namespace

void register_reduce(OpTable& table) {
  table.add("ReduceSum", reduce<Reduction::kSum>, kNumeric);
  table.add("ReduceMean", reduce<Reduction::kMean>, kNumeric);
  table.add("ReduceMax", reduce<Reduction::kMax>, kNumeric);
  table.add("ReduceMin", reduce<Reduction::kMin>, kNumeric);
  table.add("ReduceProd", reduce<Reduction::kProd>, kNumeric);
  table.add("ReduceL1", reduce<Reduction::kL1>, kNumeric);
  table.add("ReduceL2", reduce<Reduction::kL2>, kNumeric);
  table.add("ReduceSumSquare", reduce<Reduction::kSumSquare>, kNumeric);
  table.add("ReduceLogSum", reduce<Reduction::kLogSum>, kFloats);
  table.add("ReduceLogSumExp", reduce<Reduction::kLogSumExp>, kFloats);
  table.add("ArgMax", argmax<false>, kNumeric);
  table.add("ArgMin", argmax<true>, kNumeric);
}

}  // namespace mg::cpu
