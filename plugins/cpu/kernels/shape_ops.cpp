// Operators that move or describe data without arithmetic: Reshape, Flatten, Transpose,
// Squeeze, Unsqueeze, Concat, Slice, Gather, Shape, ConstantOfShape, Expand, Pad,
// Constant, Dropout. They work on any element type, byte by byte.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

#include "plugins/cpu/kernel.h"
#include "plugins/cpu/kernels/array_ops.h"
#include "plugins/cpu/kernels/broadcast.h"
#include "plugins/cpu/kernels/kernels.h"
#include "plugins/cpu/layout.h"

namespace mg::cpu {
namespace {

// Copies the elements of `in` at offset + Σ counter[d]·strides[d] into out in row-major
// order of out's shape. Trailing dimensions that are contiguous in `in` as well (stride 1
// innermost, each outer stride the product of the sizes inside it) are copied as one run:
// a Transpose that keeps the last axes (ShuffleNet's channel shuffle, [N, g, C/g, H, W] →
// [N, C/g, g, H, W]) moves whole H·W planes instead of one element at a time.
// One output row of `n` elements read `step` elements apart: a typed loop, not a memcpy
// per element (attention's [L, B·h, d] → [B·h, d, L] Transpose reads every element
// strided).
template <typename T>
void gather_row(std::byte* out, const std::byte* in, int64_t step, int64_t n) {
  auto* dst = reinterpret_cast<T*>(out);
  const auto* src = reinterpret_cast<const T*>(in);
  for (int64_t k = 0; k < n; ++k) dst[k] = src[k * step];
}

void copy_strided(const Tensor& in, int64_t offset, const std::vector<int64_t>& strides,
                  Tensor& out) {
  const std::size_t size = elem_size(in.type);
  int64_t rank = out.rank();
  if (out.size() == 0) return;
  int64_t run = 1;
  while (rank > 0 && strides[static_cast<std::size_t>(rank - 1)] == run) {
    run *= out.dim(rank - 1);
    --rank;
  }
  // A row is the contiguous run, or else the innermost dimension read with its stride.
  using Gather = void (*)(std::byte*, const std::byte*, int64_t, int64_t);
  Gather gather = nullptr;
  int64_t step = 0;
  if (run == 1 && rank > 0) {
    switch (size) {
      case 1:
        gather = gather_row<uint8_t>;
        break;
      case 2:
        gather = gather_row<uint16_t>;
        break;
      case 4:
        gather = gather_row<uint32_t>;
        break;
      case 8:
        gather = gather_row<uint64_t>;
        break;
      default:
        break;
    }
    if (gather) {
      --rank;
      run = out.dim(rank);
      step = strides[static_cast<std::size_t>(rank)];
    }
  }
  const auto run_bytes = static_cast<std::size_t>(run) * size;
  std::vector<int64_t> counter(static_cast<std::size_t>(rank), 0);
  int64_t src = offset;
  const int64_t runs = out.size() / run;
  for (int64_t i = 0; i < runs; ++i) {
    std::byte* dst = out.bytes + static_cast<std::size_t>(i) * run_bytes;
    const std::byte* from = in.bytes + src * static_cast<int64_t>(size);
    if (gather) {
      gather(dst, from, step, run);
    } else {
      std::memcpy(dst, from, run_bytes);
    }
    for (int64_t d = rank - 1; d >= 0; --d) {
      auto du = static_cast<std::size_t>(d);
      ++counter[du];
      src += strides[du];
      if (counter[du] < out.dim(d)) break;
      src -= strides[du] * out.dim(d);
      counter[du] = 0;
    }
  }
}

void reshape(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> target = ctx.input(1).ints();
  const bool allow_zero = ctx.node.attr_int("allowzero", 0) != 0;
  int64_t known = 1, infer = -1;
  for (std::size_t i = 0; i < target.size(); ++i) {
    if (target[i] == 0 && !allow_zero) {
      if (i >= x.shape.size()) ctx.fail("0 in shape refers past the input's rank");
      target[i] = x.shape[i];
    }
    if (target[i] == -1) {
      if (infer >= 0) ctx.fail("more than one -1 in shape");
      infer = static_cast<int64_t>(i);
    } else if (target[i] < 0) {
      ctx.fail("invalid dimension " + std::to_string(target[i]) + " in shape");
    } else if (__builtin_mul_overflow(known, target[i], &known)) {
      ctx.fail("shape " + shape_text(target) + " has too many elements");
    }
  }
  if (infer >= 0) {
    if (known == 0 || x.size() % known != 0) ctx.fail("cannot infer -1 for " + shape_text(x.shape));
    target[static_cast<std::size_t>(infer)] = x.size() / known;
  }
  ctx.alias_output(0, x, target);
}

void flatten(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int64_t axis = ctx.node.attr_int("axis", 1);
  if (axis < -x.rank() || axis > x.rank()) ctx.fail("axis out of range");
  if (axis < 0) axis += x.rank();
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.dim(d);
  ctx.alias_output(0, x, {outer, outer ? x.size() / outer : 0});
}

void transpose(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> perm = ctx.node.attr_ints("perm");
  if (perm.empty()) {
    for (int64_t d = x.rank() - 1; d >= 0; --d) perm.push_back(d);
  }
  if (static_cast<int64_t>(perm.size()) != x.rank()) ctx.fail("perm has the wrong length");
  std::vector<bool> seen(perm.size(), false);
  Shape shape;
  std::vector<int64_t> in_strides = row_major_strides(x.shape), strides;
  for (int64_t p : perm) {
    if (p < 0 || p >= x.rank() || seen[static_cast<std::size_t>(p)])
      ctx.fail("perm is not a permutation");
    seen[static_cast<std::size_t>(p)] = true;
    shape.push_back(x.dim(p));
    strides.push_back(in_strides[static_cast<std::size_t>(p)]);
  }
  copy_strided(x, 0, strides, ctx.output(0, x.type, shape));
}

std::vector<int64_t> axes_of(const KernelContext& ctx) {
  if (ctx.node.opset >= 13) return ctx.has_input(1) ? ctx.input(1).ints() : std::vector<int64_t>{};
  return ctx.node.attr_ints("axes");
}

void squeeze(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> axes = axes_of(ctx);
  std::vector<bool> drop(static_cast<std::size_t>(x.rank()), false);
  for (int64_t axis : axes) {
    axis = ctx.axis(axis, x.rank());
    if (x.dim(axis) != 1)
      ctx.fail("cannot squeeze axis " + std::to_string(axis) + " of size " +
               std::to_string(x.dim(axis)));
    drop[static_cast<std::size_t>(axis)] = true;
  }
  Shape shape;
  for (int64_t d = 0; d < x.rank(); ++d) {
    bool squeezed = axes.empty() ? x.dim(d) == 1 : drop[static_cast<std::size_t>(d)];
    if (!squeezed) shape.push_back(x.dim(d));
  }
  ctx.alias_output(0, x, shape);
}

void unsqueeze(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> axes = axes_of(ctx);
  const int64_t rank = x.rank() + static_cast<int64_t>(axes.size());
  std::vector<bool> inserted(static_cast<std::size_t>(rank), false);
  for (int64_t axis : axes) {
    axis = ctx.axis(axis, rank);
    if (inserted[static_cast<std::size_t>(axis)]) ctx.fail("repeated axis");
    inserted[static_cast<std::size_t>(axis)] = true;
  }
  Shape shape;
  std::size_t next = 0;
  for (int64_t d = 0; d < rank; ++d) {
    shape.push_back(inserted[static_cast<std::size_t>(d)] ? 1 : x.shape[next++]);
  }
  ctx.alias_output(0, x, shape);
}

// Concat with a BatchNormalization (and Relu) fused by the optimizer along the channel
// axis: each channel c is copied as x·_scale[c] + _shift[c]. `outer` rows of `out_row`
// bytes: images (channel-first, a row is C planes) or pixels (channel-last, C values).
void concat_normalized(KernelContext& ctx, Tensor& out, int64_t outer, int64_t out_row) {
  const std::vector<float>& scale = ctx.node.attr("_scale")->floats;
  const Attribute* shift_attr = ctx.node.attr("_shift");
  const int64_t channels = out.dim(1);
  if (out.type != ElemType::kFloat || !shift_attr ||
      static_cast<int64_t>(scale.size()) != channels ||
      static_cast<int64_t>(shift_attr->floats.size()) != channels) {
    ctx.fail("the fused normalisation does not match the output's channels");
  }
  const std::vector<float>& shift = shift_attr->floats;
  const bool relu = ctx.node.attr_int("_relu", 0) != 0;
  const int64_t row = out_row / static_cast<int64_t>(sizeof(float));  // floats per outer row
  const int64_t plane = out.channels_last ? 1 : row / std::max<int64_t>(channels, 1);
  auto* dst = out.data<float>();
  const int64_t grain = std::max<int64_t>(1, 8192 / std::max<int64_t>(row, 1));
  ctx.threads.parallel_for(outer, grain, [&](int64_t o0, int64_t o1) {
    int64_t c0 = 0;  // the input's first channel in the output
    for (std::size_t i = 0; i < ctx.input_count(); ++i) {
      const Tensor& t = ctx.input(i);
      const int64_t width = t.dim(1);
      const int64_t in_row = width * plane;
      const float* src = t.data<const float>();
      for (int64_t o = o0; o < o1; ++o) {
        const float* from = src + o * in_row;
        float* to = dst + o * row + c0 * plane;
        if (out.channels_last) {  // a pixel's channels [c0, c0 + width)
          scale_shift_rows(from, scale.data() + c0, shift.data() + c0, to, width, relu);
        } else {  // planes of channels [c0, c0 + width)
          for (int64_t c = 0; c < width; ++c) {
            const auto k = static_cast<std::size_t>(c0 + c);
            scale_shift_plane(from + c * plane, scale[k], shift[k], to + c * plane, plane, relu);
          }
        }
      }
      c0 += width;
    }
  });
}

void concat(KernelContext& ctx) {
  const Tensor& first = ctx.input(0);
  const int64_t axis = ctx.axis(ctx.node.attr_int("axis", 0), first.rank());
  Shape shape = first.shape;
  shape[static_cast<std::size_t>(axis)] = 0;
  for (std::size_t i = 0; i < ctx.input_count(); ++i) {
    const Tensor& t = ctx.input(i);
    if (t.type != first.type || t.rank() != first.rank()) ctx.fail("inputs differ in type or rank");
    for (int64_t d = 0; d < t.rank(); ++d) {
      if (d != axis && t.dim(d) != first.dim(d)) ctx.fail("inputs differ outside the axis");
    }
    shape[static_cast<std::size_t>(axis)] += t.dim(axis);
  }
  Tensor& out = ctx.output(0, first.type, shape);
  // Channel-last inputs (layout.h) concatenate along the axis's place in (N, H, W, C).
  Shape order = shape;
  int64_t place = axis;
  if (first.channels_last && !same_in_both_orders(first.shape)) {
    for (std::size_t i = 0; i < ctx.input_count(); ++i) {
      if (!ctx.input(i).channels_last) ctx.fail("a channel-first input beside channel-last ones");
    }
    if (shape.size() != 4) ctx.fail("channel-last inputs must be 4-D");
    order = {shape[0], shape[2], shape[3], shape[1]};
    place = std::array<int64_t, 4>{0, 3, 1, 2}[static_cast<std::size_t>(axis)];
    out.channels_last = true;
  }
  int64_t outer = 1;
  for (int64_t d = 0; d < place; ++d) outer *= order[static_cast<std::size_t>(d)];
  const std::size_t size = elem_size(first.type);
  const int64_t out_row = out.size() / std::max<int64_t>(outer, 1) * static_cast<int64_t>(size);
  if (ctx.node.attr("_scale")) {
    if (axis != 1) ctx.fail("a fused normalisation needs the channel axis");
    concat_normalized(ctx, out, outer, out_row);
    return;
  }
  // Each outer row gathers a run from every input. Rows are split across the threads
  // (pixels, channel-last), so each thread copies what the kernels before it wrote on
  // both cores; at least ~32 KiB of output per piece.
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(out_row, 1));
  ctx.threads.parallel_for(outer, grain, [&](int64_t o0, int64_t o1) {
    int64_t offset = 0;
    for (std::size_t i = 0; i < ctx.input_count(); ++i) {
      const Tensor& t = ctx.input(i);
      const int64_t row = t.size() / std::max<int64_t>(outer, 1) * static_cast<int64_t>(size);
      for (int64_t o = o0; o < o1; ++o) {
        std::memcpy(out.bytes + o * out_row + offset, t.bytes + o * row,
                    static_cast<std::size_t>(row));
      }
      offset += row;
    }
  });
}

void slice(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> starts, ends, axes, steps;
  if (ctx.node.opset < 10) {
    starts = ctx.node.attr_ints("starts");
    ends = ctx.node.attr_ints("ends");
    axes = ctx.node.attr_ints("axes");
  } else {
    starts = ctx.input(1).ints();
    ends = ctx.input(2).ints();
    if (ctx.has_input(3)) axes = ctx.input(3).ints();
    if (ctx.has_input(4)) steps = ctx.input(4).ints();
  }
  if (axes.empty()) {
    for (std::size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  }
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() ||
      steps.size() != starts.size()) {
    ctx.fail("starts, ends, axes and steps differ in length");
  }
  Shape shape = x.shape;
  std::vector<int64_t> begin(shape.size(), 0), step(shape.size(), 1);
  for (std::size_t i = 0; i < starts.size(); ++i) {
    const int64_t axis = ctx.axis(axes[i], x.rank());
    const int64_t dim = x.dim(axis);
    const int64_t s = steps[i];
    if (s == 0) ctx.fail("step cannot be 0");
    auto clamp = [&](int64_t v, int64_t lo, int64_t hi) {
      if (v < 0) v += dim;
      return std::clamp(v, lo, hi);
    };
    int64_t start = s > 0 ? clamp(starts[i], 0, dim) : clamp(starts[i], -1, dim - 1);
    int64_t end = s > 0 ? clamp(ends[i], 0, dim) : clamp(ends[i], -1, dim - 1);
    if (s < 0 && ends[i] < -dim) end = -1;  // "to the very beginning"
    if (s > 0 && starts[i] < -dim) start = 0;
    int64_t count = s > 0 ? (end - start + s - 1) / s : (start - end + (-s) - 1) / (-s);
    auto a = static_cast<std::size_t>(axis);
    shape[a] = std::max<int64_t>(count, 0);
    begin[a] = start;
    step[a] = s;
  }
  std::vector<int64_t> in_strides = row_major_strides(x.shape), strides(shape.size());
  int64_t offset = 0;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    offset += begin[d] * in_strides[d];
    strides[d] = step[d] * in_strides[d];
  }
  Tensor& out = ctx.output(0, x.type, shape);
  if (out.size() > 0) copy_strided(x, offset, strides, out);
}

void gather(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  const int64_t axis = ctx.axis(ctx.node.attr_int("axis", 0), data.rank());
  Shape shape(data.shape.begin(), data.shape.begin() + axis);
  shape.insert(shape.end(), indices.shape.begin(), indices.shape.end());
  shape.insert(shape.end(), data.shape.begin() + axis + 1, data.shape.end());
  Tensor& out = ctx.output(0, data.type, shape);
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= data.dim(d);
  for (int64_t d = axis + 1; d < data.rank(); ++d) inner *= data.dim(d);
  const int64_t len = data.dim(axis), count = indices.size();
  const std::size_t chunk = static_cast<std::size_t>(inner) * elem_size(data.type);
  for (int64_t j = 0; j < count; ++j) {
    const int64_t index = ctx.index(indices.int_at(j), len);
    for (int64_t o = 0; o < outer; ++o) {
      std::memcpy(out.bytes + static_cast<std::size_t>(o * count + j) * chunk,
                  data.bytes + static_cast<std::size_t>(o * len + index) * chunk, chunk);
    }
  }
}

void shape_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  int64_t start = ctx.node.attr_int("start", 0), end = ctx.node.attr_int("end", x.rank());
  if (start < 0) start += x.rank();
  if (end < 0) end += x.rank();
  start = std::clamp<int64_t>(start, 0, x.rank());
  end = std::clamp<int64_t>(end, start, x.rank());
  Tensor& out = ctx.output(0, ElemType::kInt64, {end - start});
  for (int64_t d = start; d < end; ++d) out.data<int64_t>()[d - start] = x.dim(d);
}

void constant_of_shape(KernelContext& ctx) {
  Shape shape = ctx.input(0).ints();
  for (int64_t d : shape) {
    if (d < 0) ctx.fail("negative dimension in shape");
  }
  const Attribute* value = ctx.node.attr("value");
  const ElemType type = value ? value->t.type : ElemType::kFloat;
  Tensor& out = ctx.output(0, type, shape);
  const std::size_t size = elem_size(type);
  if (value == nullptr) {
    std::memset(out.bytes, 0, out.byte_size());
    return;
  }
  const int64_t n = out.size();
  for (int64_t i = 0; i < n; ++i)
    std::memcpy(out.bytes + i * static_cast<int64_t>(size), value->t.bytes, size);
}

void expand(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Shape shape = broadcast_shapes(x.shape, ctx.input(1).ints());
  Tensor& out = ctx.output(0, x.type, shape);
  const std::size_t size = elem_size(x.type);
  for_each_broadcast<1>(out.shape, {&x.shape},
                        [&](int64_t o, const std::array<int64_t, 1>& off, int64_t inner,
                            const std::array<int64_t, 1>& st) {
                          for (int64_t i = 0; i < inner; ++i) {
                            std::memcpy(out.bytes + (o + i) * static_cast<int64_t>(size),
                                        x.bytes + (off[0] + i * st[0]) * static_cast<int64_t>(size),
                                        size);
                          }
                        });
}

void pad(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> pads;
  Tensor fill = Tensor::owned(x.type, {});
  const std::string mode = ctx.node.attr_string("mode", "constant");
  if (ctx.node.opset < 11) {
    pads = ctx.node.attr_ints("pads");
    if (x.type != ElemType::kFloat) ctx.fail("expects float input");
    *fill.data<float>() = ctx.node.attr_float("value", 0.f);
  } else {
    pads = ctx.input(1).ints();
    if (ctx.has_input(2) && ctx.input(2).size() > 0) {
      std::memcpy(fill.bytes, ctx.input(2).bytes, elem_size(x.type));
    }
  }
  const int64_t rank = x.rank();
  if (static_cast<int64_t>(pads.size()) != 2 * rank) ctx.fail("pads must have 2 × rank values");
  if (mode != "constant" && mode != "reflect" && mode != "edge")
    ctx.fail("unknown mode '" + mode + "'");
  Shape shape(static_cast<std::size_t>(rank));
  for (int64_t d = 0; d < rank; ++d) {
    auto du = static_cast<std::size_t>(d);
    shape[du] = x.dim(d) + pads[du] + pads[du + static_cast<std::size_t>(rank)];
    if (shape[du] < 0) ctx.fail("pads remove more than the dimension holds");
    if (mode != "constant" && x.dim(d) == 0 && shape[du] > 0)
      ctx.fail("cannot " + mode + "-pad an empty dimension");
  }
  if (std::all_of(pads.begin(), pads.end(), [](int64_t p) { return p == 0; })) {
    ctx.alias_output(0, x, x.shape);  // as exported before an AveragePool: nothing to do
    return;
  }
  Tensor& out = ctx.output(0, x.type, shape);
  const auto size = static_cast<int64_t>(elem_size(x.type));
  // The input index an output index along dimension d reads, or -1 for the fill value.
  auto source = [&](int64_t d, int64_t c) -> int64_t {
    const int64_t n = x.dim(d);
    c -= pads[static_cast<std::size_t>(d)];
    if (c >= 0 && c < n) return c;
    if (mode == "constant") return -1;
    if (mode == "edge") return std::clamp<int64_t>(c, 0, n - 1);
    const int64_t period = std::max<int64_t>(2 * (n - 1), 1);  // reflect, edge not repeated
    c = ((c % period) + period) % period;
    return c >= n ? period - c : c;
  };
  if (rank == 0) {
    std::memcpy(out.bytes, x.bytes, static_cast<std::size_t>(size));
    return;
  }
  // Row by row along the last dimension: the part of a row inside the input is one copy.
  const std::vector<int64_t> in_strides = row_major_strides(x.shape);
  const int64_t last = rank - 1, width = shape[static_cast<std::size_t>(last)];
  const int64_t lead = pads[static_cast<std::size_t>(last)];
  const int64_t inside_begin = std::clamp<int64_t>(lead, 0, width);
  const int64_t inside_end = std::clamp<int64_t>(lead + x.dim(last), inside_begin, width);
  const int64_t rows = width > 0 ? out.size() / width : 0;
  std::vector<int64_t> counter(static_cast<std::size_t>(last), 0);
  for (int64_t r = 0; r < rows; ++r) {
    std::byte* dst = out.bytes + r * width * size;
    int64_t row_start = 0;
    bool fill_row = false;
    for (int64_t d = 0; d < last && !fill_row; ++d) {
      const int64_t c = source(d, counter[static_cast<std::size_t>(d)]);
      fill_row = c < 0;
      row_start += c * in_strides[static_cast<std::size_t>(d)];
    }
    for (int64_t c = 0; c < width; ++c) {
      if (!fill_row && c == inside_begin && inside_end > inside_begin) {
        std::memcpy(dst + c * size, x.bytes + (row_start + c - lead) * size,
                    static_cast<std::size_t>((inside_end - inside_begin) * size));
        c = inside_end - 1;
        continue;
      }
      const int64_t src = fill_row ? -1 : source(last, c);
      std::memcpy(dst + c * size, src < 0 ? fill.bytes : x.bytes + (row_start + src) * size,
                  static_cast<std::size_t>(size));
    }
    for (int64_t d = last - 1; d >= 0; --d) {
      auto du = static_cast<std::size_t>(d);
      if (++counter[du] < shape[du]) break;
      counter[du] = 0;
    }
  }
}

void constant(KernelContext& ctx) {
  const Attribute* value = ctx.node.attr("value");
  if (value == nullptr || value->kind != Attribute::Kind::kTensor) ctx.fail("needs a tensor value");
  ctx.alias_output(0, value->t, value->t.shape);
}

void dropout(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (ctx.has_input(2) && ctx.input(2).size() > 0 && ctx.input(2).data<const bool>()[0]) {
    ctx.fail("training mode is not supported");
  }
  ctx.alias_output(0, x, x.shape);
  if (ctx.wants_output(1)) {
    Tensor& mask = ctx.output(1, ElemType::kBool, x.shape);
    std::memset(mask.bytes, 1, mask.byte_size());
  }
}

}  // namespace

void register_shape_ops(OpTable& table) {
  table.add("Reshape", reshape, kAllTypes);
  table.add("Flatten", flatten, kAllTypes);
  table.add("Transpose", transpose, kAllTypes);
  table.add("Squeeze", squeeze, kAllTypes);
  table.add("Unsqueeze", unsqueeze, kAllTypes);
  table.add("Concat", concat, kAllTypes);
  table.add("Slice", slice, kAllTypes);
  table.add("Gather", gather, kAllTypes);
  table.add("Shape", shape_kernel, kAllTypes);
  table.add("ConstantOfShape", constant_of_shape, kAllTypes);
  table.add("Expand", expand, kAllTypes);
  table.add("Pad", pad, kAllTypes);
  table.set_check("Pad", [](const Node& node) -> std::string {
    return node.inputs.size() > 3 && node.inputs[3] >= 0 ? "the axes input is not supported" : "";
  });
  table.add("Constant", constant, kAllTypes);
  table.add("Dropout", dropout, kAllTypes);
}

}  // namespace mg::cpu
