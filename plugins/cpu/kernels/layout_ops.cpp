// Operators that move data without arithmetic, beyond shape_ops.cpp: Split, Tile,
// DepthToSpace, SpaceToDepth, and Size.
#include <cstring>

#include "plugins/cpu/kernel.h"
#include "plugins/cpu/kernels/kernels.h"

namespace mg::cpu {
namespace {

void split(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int64_t axis = ctx.axis(ctx.node.attr_int("axis", 0), x.rank());
  const int64_t len = x.dim(axis);
  const auto outputs = static_cast<int64_t>(ctx.node.outputs.size());
  std::vector<int64_t> parts =
      ctx.node.opset >= 13 ? std::vector<int64_t>{} : ctx.node.attr_ints("split");
  if (ctx.node.opset >= 13 && ctx.has_input(1)) parts = ctx.input(1).ints();
  if (parts.empty()) {
    if (outputs < 1 || len % outputs != 0) {
      ctx.fail("a dimension of " + std::to_string(len) + " does not split into " +
               std::to_string(outputs) + " equal parts");
    }
    parts.assign(static_cast<std::size_t>(outputs), len / outputs);
  }
  int64_t total = 0;
  for (int64_t p : parts) {
    if (p < 0) ctx.fail("split sizes must not be negative");
    total += p;
  }
  if (static_cast<int64_t>(parts.size()) != outputs || total != len) {
    ctx.fail("split sizes must be one per output and add up to " + std::to_string(len));
  }
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.dim(d);
  for (int64_t d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
  const std::size_t size = elem_size(x.type);
  int64_t begin = 0;
  for (std::size_t k = 0; k < parts.size(); ++k) {
    const int64_t part = parts[k];
    if (ctx.wants_output(k)) {
      Shape shape = x.shape;
      shape[static_cast<std::size_t>(axis)] = part;
      Tensor& out = ctx.output(k, x.type, shape);
      const std::size_t chunk = static_cast<std::size_t>(part * inner) * size;
      for (int64_t o = 0; o < outer; ++o) {
        std::memcpy(out.bytes + static_cast<std::size_t>(o) * chunk,
                    x.bytes + static_cast<std::size_t>((o * len + begin) * inner) * size, chunk);
      }
    }
    begin += part;
  }
}

void tile(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const std::vector<int64_t> repeats = ctx.input(1).ints();
  if (static_cast<int64_t>(repeats.size()) != x.rank())
    ctx.fail("repeats needs one value per dimension");
  Shape shape = x.shape;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (repeats[d] < 0) ctx.fail("repeats must not be negative");
    if (repeats[d] > 0 && shape[d] > (int64_t{1} << 40) / repeats[d])
      ctx.fail("the tiled tensor is too large");
    shape[d] *= repeats[d];
  }
  Tensor& out = ctx.output(0, x.type, shape);
  const std::size_t size = elem_size(x.type);
  const int64_t rank = x.rank();
  const int64_t n = out.size();
  std::vector<int64_t> coord(static_cast<std::size_t>(rank), 0);
  const std::vector<int64_t> in_strides = row_major_strides(x.shape);
  // Row by row of the last dimension: each output row is the input row repeated.
  const int64_t row = rank > 0 ? shape.back() : 1;
  const int64_t in_row = rank > 0 ? x.shape.back() : 1;
  for (int64_t at = 0; at < n; at += row) {
    int64_t from = 0;
    for (int64_t d = 0; d + 1 < rank; ++d) {
      from +=
          (coord[static_cast<std::size_t>(d)] % x.dim(d)) * in_strides[static_cast<std::size_t>(d)];
    }
    for (int64_t c = 0; c < row; c += in_row) {
      std::memcpy(out.bytes + static_cast<std::size_t>(at + c) * size,
                  x.bytes + static_cast<std::size_t>(from) * size,
                  static_cast<std::size_t>(in_row) * size);
    }
    for (int64_t d = rank - 2; d >= 0; --d) {
      if (++coord[static_cast<std::size_t>(d)] < shape[static_cast<std::size_t>(d)]) break;
      coord[static_cast<std::size_t>(d)] = 0;
    }
  }
}

// DepthToSpace (DCR or CRD) and SpaceToDepth on NCHW: one element copy per output element
// through the index mapping.
template <bool kToSpace>
void depth_space(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() != 4) ctx.fail("expects a rank-4 NCHW input");
  const int64_t b = ctx.node.attr_int("blocksize", 0);
  if (b < 1) ctx.fail("blocksize must be positive");
  const bool crd = ctx.node.attr_string("mode", "DCR") == "CRD";
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
  Shape shape;
  if (kToSpace) {
    if (c % (b * b) != 0) ctx.fail("channels must divide by blocksize²");
    shape = {n, c / (b * b), h * b, w * b};
  } else {
    if (h % b != 0 || w % b != 0) ctx.fail("height and width must divide by blocksize");
    shape = {n, c * b * b, h / b, w / b};
  }
  Tensor& out = ctx.output(0, x.type, shape);
  const std::size_t size = elem_size(x.type);
  // The depth side: channels C' = (c_small, b, b) in one of two orders.
  const int64_t small = kToSpace ? shape[1] : c;
  const int64_t sh = kToSpace ? h : shape[2], sw = kToSpace ? w : shape[3];
  for (int64_t in = 0; in < n; ++in) {
    for (int64_t cs = 0; cs < small; ++cs) {
      for (int64_t bh = 0; bh < b; ++bh) {
        for (int64_t bw = 0; bw < b; ++bw) {
          const int64_t deep = crd ? (cs * b + bh) * b + bw : (bh * b + bw) * small + cs;
          for (int64_t y = 0; y < sh; ++y) {
            for (int64_t xx = 0; xx < sw; ++xx) {
              const int64_t depth_at = ((in * small * b * b + deep) * sh + y) * sw + xx;
              const int64_t space_at =
                  ((in * small + cs) * sh * b + y * b + bh) * sw * b + xx * b + bw;
              const int64_t from = kToSpace ? depth_at : space_at;
              const int64_t to = kToSpace ? space_at : depth_at;
              std::memcpy(out.bytes + to * static_cast<int64_t>(size),
                          x.bytes + from * static_cast<int64_t>(size), size);
            }
          }
        }
      }
    }
  }
}

void size_kernel(KernelContext& ctx) {
  Tensor& out = ctx.output(0, ElemType::kInt64, {});
  *out.data<int64_t>() = ctx.input(0).size();
}

}  // namespace

void register_layout_ops(OpTable& table) {
  table.add("Split", split, kAllTypes);
  table.add("Tile", tile, kAllTypes);
  table.add("DepthToSpace", depth_space<true>, kAllTypes);
  table.add("SpaceToDepth", depth_space<false>, kAllTypes);
  table.add("Size", size_kernel, kAllTypes);
}

}  // namespace mg::cpu
