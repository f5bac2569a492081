// ReduceMean, ReduceSum, ReduceMax and ArgMax.
#include <algorithm>
#include <limits>

#include "plugins/cpu/kernel.h"
#include "plugins/cpu/kernels/kernels.h"

namespace mg::cpu {
namespace {

enum class Reduction { kSum, kMean, kMax };

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

template <typename T>
void reduce_typed(const Tensor& x, Tensor& y, const std::vector<bool>& reduced, Reduction kind) {
  if (x.size() > 0 && reduce_contiguous<T>(x, y, reduced, kind)) return;
  const int64_t rank = x.rank();
  // Output strides per input axis, 0 on reduced axes.
  std::vector<int64_t> out_stride(static_cast<std::size_t>(rank), 0);
  int64_t stride = 1;
  for (int64_t d = rank - 1; d >= 0; --d) {
    if (!reduced[static_cast<std::size_t>(d)]) {
      out_stride[static_cast<std::size_t>(d)] = stride;
      stride *= x.dim(d);
    }
  }
  T* out = y.data<T>();
  const T init = kind == Reduction::kMax ? std::numeric_limits<T>::lowest() : T(0);
  std::fill(out, out + y.size(), init);
  const T* in = x.data<const T>();
  std::vector<int64_t> counter(static_cast<std::size_t>(rank), 0);
  int64_t o = 0;
  const int64_t n = x.size();
  for (int64_t i = 0; i < n; ++i) {
    out[o] = kind == Reduction::kMax ? std::max(out[o], in[i]) : out[o] + in[i];
    for (int64_t d = rank - 1; d >= 0; --d) {
      auto du = static_cast<std::size_t>(d);
      ++counter[du];
      o += out_stride[du];
      if (counter[du] < x.dim(d)) break;
      o -= out_stride[du] * x.dim(d);
      counter[du] = 0;
    }
  }
  if (kind == Reduction::kMean && y.size() > 0) {
    const int64_t outputs = y.size(), count = x.size() / outputs;
    for (int64_t i = 0; i < outputs; ++i) out[i] = static_cast<T>(out[i] / static_cast<T>(count));
  }
}

template <Reduction kKind>
void reduce(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> axes = ctx.node.attr_ints("axes");
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
  if (kKind == Reduction::kMax && x.size() == 0) ctx.fail("cannot take the max of nothing");
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

template <typename T>
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
        if (src[j * inner] > src[best * inner] || (last && src[j * inner] == src[best * inner])) {
          best = j;
        }
      }
      out[o * inner + i] = best;
    }
  }
}

void argmax(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int64_t axis = ctx.axis(ctx.node.attr_int("axis", 0), x.rank());
  if (x.dim(axis) == 0) ctx.fail("cannot take the argmax of an empty axis");
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
      return argmax_typed<float>(x, y, axis, last);
    case ElemType::kDouble:
      return argmax_typed<double>(x, y, axis, last);
    case ElemType::kInt32:
      return argmax_typed<int32_t>(x, y, axis, last);
    case ElemType::kInt64:
      return argmax_typed<int64_t>(x, y, axis, last);
    default:
      ctx.fail("unsupported element type " + elem_name(x.type));
  }
}

}  // namespace

void register_reduce(OpTable& table) {
  table.add("ReduceSum", reduce<Reduction::kSum>, kNumeric);
  table.add("ReduceMean", reduce<Reduction::kMean>, kNumeric);
  table.add("ReduceMax", reduce<Reduction::kMax>, kNumeric);
  table.add("ArgMax", argmax, kNumeric);
}

}  // namespace mg::cpu
