// Operators driven by index tensors or positions: GatherElements, GatherND,
// ScatterElements, ScatterND, OneHot, TopK, CumSum, Range and Trilu. Every index a request
// carries is checked against the dimension it addresses before it is used.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "plugins/cpu/kernel.h"
#include "plugins/cpu/kernels/elementwise.h"
#include "plugins/cpu/kernels/kernels.h"

namespace mg::cpu {
namespace {

// Calls fn(i, coordinates) for every element of `shape` in row-major order.
template <typename Fn>
void for_each_coordinate(const Shape& shape, Fn&& fn) {
  const int64_t n = num_elements(shape);
  std::vector<int64_t> coord(shape.size(), 0);
  for (int64_t i = 0; i < n; ++i) {
    fn(i, coord);
    for (std::size_t d = shape.size(); d-- > 0;) {
      if (++coord[d] < shape[d]) break;
      coord[d] = 0;
    }
  }
}

// The data offset an element of `indices` addresses along `axis` (Gather/ScatterElements).
int64_t element_offset(const KernelContext& ctx, const Tensor& data, const Tensor& indices,
                       int64_t axis, int64_t i, const std::vector<int64_t>& coord,
                       const std::vector<int64_t>& strides) {
  int64_t offset = 0;
  for (std::size_t d = 0; d < coord.size(); ++d) {
    const int64_t c =
        static_cast<int64_t>(d) == axis ? ctx.index(indices.int_at(i), data.dim(axis)) : coord[d];
    if (c >= data.shape[d]) ctx.fail("indices reach past data along axis " + std::to_string(d));
    offset += c * strides[d];
  }
  return offset;
}

void gather_elements(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  if (indices.rank() != data.rank()) ctx.fail("data and indices must have the same rank");
  const int64_t axis = ctx.axis(ctx.node.attr_int("axis", 0), data.rank());
  Tensor& out = ctx.output(0, data.type, indices.shape);
  const std::size_t size = elem_size(data.type);
  const std::vector<int64_t> strides = row_major_strides(data.shape);
  for_each_coordinate(indices.shape, [&](int64_t i, const std::vector<int64_t>& coord) {
    const int64_t from = element_offset(ctx, data, indices, axis, i, coord, strides);
    std::memcpy(out.bytes + i * static_cast<int64_t>(size),
                data.bytes + from * static_cast<int64_t>(size), size);
  });
}

enum class Combine { kNone, kAdd, kMul, kMax, kMin };

Combine combine_of(const KernelContext& ctx) {
  const std::string r = ctx.node.attr_string("reduction", "none");
  if (r == "none") return Combine::kNone;
  if (r == "add") return Combine::kAdd;
  if (r == "mul") return Combine::kMul;
  if (r == "max") return Combine::kMax;
  if (r == "min") return Combine::kMin;
  ctx.fail("reduction '" + r + "' is not supported");
}

// out[to] = updates[from], or combined with what is there.
void scatter_one(const KernelContext& ctx, Tensor& out, int64_t to, const Tensor& updates,
                 int64_t from, Combine combine) {
  const std::size_t size = elem_size(out.type);
  if (combine == Combine::kNone) {
    std::memcpy(out.bytes + to * static_cast<int64_t>(size),
                updates.bytes + from * static_cast<int64_t>(size), size);
    return;
  }
  dispatch_numeric(ctx, out.type, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    T& o = out.data<T>()[to];
    const T u = updates.data<const T>()[from];
    switch (combine) {
      case Combine::kAdd:
        o = static_cast<T>(o + u);
        break;
      case Combine::kMul:
        o = static_cast<T>(o * u);
        break;
      case Combine::kMax:
        o = std::max(o, u);
        break;
      default:
        o = std::min(o, u);
    }
  });
}

void scatter_elements(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  const Tensor& updates = ctx.input(2);
  if (indices.rank() != data.rank() || updates.shape != indices.shape ||
      updates.type != data.type) {
    ctx.fail("indices and updates must match each other and data's rank and type");
  }
  const int64_t axis = ctx.axis(ctx.node.attr_int("axis", 0), data.rank());
  const Combine combine = combine_of(ctx);
  Tensor& out = ctx.output(0, data.type, data.shape);
  std::memcpy(out.bytes, data.bytes, data.byte_size());
  const std::vector<int64_t> strides = row_major_strides(data.shape);
  for_each_coordinate(indices.shape, [&](int64_t i, const std::vector<int64_t>& coord) {
    scatter_one(ctx, out, element_offset(ctx, data, indices, axis, i, coord, strides), updates, i,
                combine);
  });
}

// The data offset the index tuple number `tuple` of `indices` (last dimension k) names,
// over data's dimensions [first, first + k).
int64_t tuple_offset(const KernelContext& ctx, const Tensor& data, const Tensor& indices,
                     int64_t tuple, int64_t first, const std::vector<int64_t>& strides) {
  const int64_t k = indices.dim(indices.rank() - 1);
  int64_t offset = 0;
  for (int64_t j = 0; j < k; ++j) {
    offset += ctx.index(indices.int_at(tuple * k + j), data.dim(first + j)) *
              strides[static_cast<std::size_t>(first + j)];
  }
  return offset;
}

void scatter_nd(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  const Tensor& updates = ctx.input(2);
  if (indices.rank() < 1 || updates.type != data.type) ctx.fail("bad indices or updates");
  const int64_t k = indices.dim(indices.rank() - 1);
  if (k < 1 || k > data.rank()) ctx.fail("the last dimension of indices must be 1 to data's rank");
  Shape expected(indices.shape.begin(), indices.shape.end() - 1);
  expected.insert(expected.end(), data.shape.begin() + k, data.shape.end());
  if (updates.shape != expected) ctx.fail("updates must have shape " + shape_text(expected));
  const Combine combine = combine_of(ctx);
  Tensor& out = ctx.output(0, data.type, data.shape);
  std::memcpy(out.bytes, data.bytes, data.byte_size());
  const std::vector<int64_t> strides = row_major_strides(data.shape);
  const int64_t chunk = num_elements(Shape(data.shape.begin() + k, data.shape.end()));
  const int64_t tuples = k > 0 ? indices.size() / k : 0;
  for (int64_t t = 0; t < tuples; ++t) {
    const int64_t to = tuple_offset(ctx, data, indices, t, 0, strides);
    for (int64_t e = 0; e < chunk; ++e)
      scatter_one(ctx, out, to + e, updates, t * chunk + e, combine);
  }
}

void gather_nd(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  const int64_t b = ctx.node.attr_int("batch_dims", 0);
  if (indices.rank() < 1 || b < 0 || b >= std::min(data.rank(), indices.rank())) {
    ctx.fail("bad batch_dims or indices rank");
  }
  for (int64_t d = 0; d < b; ++d) {
    if (data.dim(d) != indices.dim(d)) ctx.fail("data and indices differ in a batch dimension");
  }
  const int64_t k = indices.dim(indices.rank() - 1);
  if (k < 1 || b + k > data.rank()) ctx.fail("the last dimension of indices is too large");
  Shape shape(indices.shape.begin(), indices.shape.end() - 1);
  shape.insert(shape.end(), data.shape.begin() + b + k, data.shape.end());
  Tensor& out = ctx.output(0, data.type, shape);
  const std::vector<int64_t> strides = row_major_strides(data.shape);
  const int64_t batches = num_elements(Shape(data.shape.begin(), data.shape.begin() + b));
  const int64_t tuples = indices.size() / k;
  const int64_t per_batch = batches > 0 ? tuples / batches : 0;
  const int64_t batch_stride = b > 0 ? strides[static_cast<std::size_t>(b - 1)] : 0;
  const std::size_t chunk =
      static_cast<std::size_t>(num_elements(Shape(data.shape.begin() + b + k, data.shape.end()))) *
      elem_size(data.type);
  for (int64_t t = 0; t < tuples; ++t) {
    const int64_t from = (per_batch > 0 ? t / per_batch : 0) * batch_stride +
                         tuple_offset(ctx, data, indices, t, b, strides);
    std::memcpy(out.bytes + static_cast<std::size_t>(t) * chunk,
                data.bytes + static_cast<std::size_t>(from) * elem_size(data.type), chunk);
  }
}

void one_hot(KernelContext& ctx) {
  const Tensor& indices = ctx.input(0);
  const Tensor& values = ctx.input(2);
  if (ctx.input(1).size() != 1 || values.size() != 2)
    ctx.fail("depth must be one value, values two");
  const double depth_value = ctx.input(1).number_at(0);
  if (!(depth_value >= 1) || depth_value > double(int64_t{1} << 31))
    ctx.fail("depth must be positive");
  const auto depth = static_cast<int64_t>(depth_value);
  const int64_t rank = indices.rank() + 1;
  int64_t axis = ctx.node.attr_int("axis", -1);
  if (axis < -rank || axis >= rank) ctx.fail("axis out of range");
  if (axis < 0) axis += rank;
  Shape shape = indices.shape;
  shape.insert(shape.begin() + axis, depth);
  Tensor& out = ctx.output(0, values.type, shape);
  const std::size_t size = elem_size(values.type);
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= indices.dim(d);
  for (int64_t d = axis; d < indices.rank(); ++d) inner *= indices.dim(d);
  const std::byte* off = values.bytes;
  const std::byte* on = values.bytes + size;
  const int64_t n = out.size();
  for (int64_t i = 0; i < n; ++i)
    std::memcpy(out.bytes + i * static_cast<int64_t>(size), off, size);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t at = o * inner + i;
      int64_t index = 0;
      if (indices.type == ElemType::kFloat || indices.type == ElemType::kDouble) {
        const double v = indices.number_at(at);
        if (!std::isfinite(v) || std::abs(v) > double(depth)) continue;
        index = static_cast<int64_t>(v);
      } else {
        index = indices.int_at(at);
      }
      if (index < -depth || index >= depth) continue;  // out of range: all "off"
      if (index < 0) index += depth;
      std::memcpy(out.bytes + ((o * depth + index) * inner + i) * static_cast<int64_t>(size), on,
                  size);
    }
  }
}

void top_k(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int64_t axis = ctx.axis(ctx.node.attr_int("axis", -1), x.rank());
  if (ctx.input(1).size() != 1) ctx.fail("K must be one value");
  const int64_t k = ctx.input(1).int_at(0);
  const int64_t len = x.dim(axis);
  if (k < 0 || k > len)
    ctx.fail("K is " + std::to_string(k) + " for an axis of " + std::to_string(len));
  const bool largest = ctx.node.attr_int("largest", 1) != 0;
  Shape shape = x.shape;
  shape[static_cast<std::size_t>(axis)] = k;
  Tensor& values = ctx.output(0, x.type, shape);
  Tensor& indices = ctx.output(1, ElemType::kInt64, shape);
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.dim(d);
  for (int64_t d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
  dispatch_numeric(ctx, x.type, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const T* in = x.data<const T>();
    T* v = values.data<T>();
    int64_t* idx = indices.data<int64_t>();
    std::vector<int64_t> order(static_cast<std::size_t>(len));
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        const T* src = in + o * len * inner + i;
        std::iota(order.begin(), order.end(), 0);
        // Ties keep the lower index first, as the spec asks (and sorted output always).
        std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int64_t a, int64_t b) {
          const T va = src[a * inner], vb = src[b * inner];
          if (va != vb) return largest ? va > vb : va < vb;
          return a < b;
        });
        for (int64_t j = 0; j < k; ++j) {
          const int64_t at = (o * k + j) * inner + i;
          idx[at] = order[static_cast<std::size_t>(j)];
          v[at] = src[order[static_cast<std::size_t>(j)] * inner];
        }
      }
    }
  });
}

void cum_sum(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (ctx.input(1).size() != 1) ctx.fail("axis must be one value");
  const int64_t axis = ctx.axis(ctx.input(1).int_at(0), x.rank());
  const bool exclusive = ctx.node.attr_int("exclusive", 0) != 0;
  const bool reverse = ctx.node.attr_int("reverse", 0) != 0;
  Tensor& y = ctx.output(0, x.type, x.shape);
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.dim(d);
  for (int64_t d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
  const int64_t len = x.dim(axis);
  dispatch_numeric(ctx, x.type, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const T* in = x.data<const T>();
    T* out = y.data<T>();
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        T sum = T(0);
        for (int64_t s = 0; s < len; ++s) {
          const int64_t j = reverse ? len - 1 - s : s;
          const int64_t at = (o * len + j) * inner + i;
          if (exclusive) {
            out[at] = sum;
            sum = static_cast<T>(sum + in[at]);
          } else {
            sum = static_cast<T>(sum + in[at]);
            out[at] = sum;
          }
        }
      }
    }
  });
}

void range(KernelContext& ctx) {
  const Tensor& start = ctx.input(0);
  if (start.size() != 1 || ctx.input(1).size() != 1 || ctx.input(2).size() != 1) {
    ctx.fail("start, limit and delta must be scalars");
  }
  dispatch_numeric(ctx, start.type, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const T first = start.data<const T>()[0];
    const T limit = ctx.input(1).data<const T>()[0];
    const T delta = ctx.input(2).data<const T>()[0];
    if (delta == T(0)) ctx.fail("delta must not be 0");
    const double count = std::ceil((static_cast<double>(limit) - static_cast<double>(first)) /
                                   static_cast<double>(delta));
    if (!(count < double(int64_t{1} << 40))) ctx.fail("the range is too long");
    const int64_t n = count > 0 ? static_cast<int64_t>(count) : 0;
    Tensor& out = ctx.output(0, start.type, {n});
    T* o = out.data<T>();
    for (int64_t i = 0; i < n; ++i) o[i] = static_cast<T>(first + static_cast<T>(i) * delta);
  });
}

// Trilu: keeps the upper (or lower) triangle of the last two dimensions from diagonal k.
void trilu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() < 2) ctx.fail("expects rank >= 2");
  const int64_t k = ctx.has_input(1) ? ctx.input(1).int_at(0) : 0;
  const bool upper = ctx.node.attr_int("upper", 1) != 0;
  Tensor& y = ctx.output(0, x.type, x.shape);
  const int64_t rows = x.dim(x.rank() - 2), cols = x.dim(x.rank() - 1);
  const int64_t matrices = rows * cols > 0 ? x.size() / (rows * cols) : 0;
  const std::size_t size = elem_size(x.type);
  std::memcpy(y.bytes, x.bytes, x.byte_size());
  for (int64_t m = 0; m < matrices; ++m) {
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) {
        const bool keep = upper ? c - r >= k : c - r <= k;
        if (!keep)
          std::memset(y.bytes + ((m * rows + r) * cols + c) * static_cast<int64_t>(size), 0, size);
      }
    }
  }
}

}  // namespace

void register_index_ops(OpTable& table) {
  table.add("GatherElements", gather_elements, kAllTypes);
  table.add("GatherND", gather_nd, kAllTypes);
  table.add("ScatterElements", scatter_elements, kAllTypes);
  table.add("ScatterND", scatter_nd, kAllTypes);
  table.add("OneHot", one_hot, kAllTypes);
  table.add("TopK", top_k, kNumeric);
  table.add("CumSum", cum_sum, kNumeric);
  table.add("Range", range, kNumeric);
  table.add("Trilu", trilu, kAllTypes);
}

}  // namespace mg::cpu
