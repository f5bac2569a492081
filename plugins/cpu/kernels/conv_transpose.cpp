// ConvTranspose (1-D to 3-D; strides, dilations, pads, output_padding, output_shape,
// auto_pad, groups) as GEMM + col2im: per image and group, columns = Wᵀ·X on oneDNN's
// sgemm, then each column entry is added into the output position its kernel tap reaches.
#include <algorithm>
#include <cstring>

#include "plugins/cpu/kernel.h"
#include "plugins/cpu/kernels/gemm.h"
#include "plugins/cpu/kernels/kernels.h"

namespace mg::cpu {
namespace {

struct Geometry {
  int spatial = 0;
  int64_t in[3] = {1, 1, 1}, kernel[3] = {1, 1, 1}, stride[3] = {1, 1, 1};
  int64_t dilation[3] = {1, 1, 1}, pad_begin[3] = {0, 0, 0}, out[3] = {1, 1, 1};
};

// The attribute list `name` with one value per spatial dimension, or `fallback` each.
std::vector<int64_t> per_dimension(const KernelContext& ctx, const std::string& name, int spatial,
                                   int64_t fallback) {
  std::vector<int64_t> values = ctx.node.attr_ints(name);
  if (values.empty()) values.assign(static_cast<std::size_t>(spatial), fallback);
  if (static_cast<int>(values.size()) != spatial) {
    ctx.fail("attribute " + name + " needs " + std::to_string(spatial) + " values");
  }
  return values;
}

Geometry geometry(const KernelContext& ctx, const Tensor& x, const Tensor& w) {
  Geometry g;
  g.spatial = static_cast<int>(x.rank()) - 2;
  if (g.spatial < 1 || g.spatial > 3 || w.rank() != x.rank()) {
    ctx.fail("X and W must have the same rank, 3 to 5");
  }
  const int s = g.spatial;
  std::vector<int64_t> kernel = ctx.node.attr_ints("kernel_shape");
  if (kernel.empty()) kernel.assign(w.shape.begin() + 2, w.shape.end());
  if (static_cast<int>(kernel.size()) != s) ctx.fail("kernel_shape needs one value per dimension");
  const auto strides = per_dimension(ctx, "strides", s, 1);
  const auto dilations = per_dimension(ctx, "dilations", s, 1);
  const auto output_padding = per_dimension(ctx, "output_padding", s, 0);
  std::vector<int64_t> pads = ctx.node.attr_ints("pads");
  if (pads.empty()) pads.assign(static_cast<std::size_t>(2 * s), 0);
  if (static_cast<int>(pads.size()) != 2 * s) ctx.fail("pads needs two values per dimension");
  const std::vector<int64_t> output_shape = ctx.node.attr_ints("output_shape");
  const std::string auto_pad = ctx.node.attr_string("auto_pad", "NOTSET");
  const int offset = 3 - s;  // fewer dimensions sit at the end of the 3
  for (int i = 0; i < s; ++i) {
    const auto u = static_cast<std::size_t>(i);
    const int j = offset + i;
    g.in[j] = x.dim(2 + i);
    g.kernel[j] = kernel[u];
    g.stride[j] = strides[u];
    g.dilation[j] = dilations[u];
    if (g.kernel[j] < 1 || g.stride[j] < 1 || g.dilation[j] < 1 || output_padding[u] < 0) {
      ctx.fail("kernel, strides and dilations must be positive, output_padding not negative");
    }
    const int64_t span = (g.kernel[j] - 1) * g.dilation[j] + 1;
    const int64_t full = g.stride[j] * (g.in[j] - 1) + output_padding[u] + span;
    if (!output_shape.empty() || (auto_pad != "NOTSET" && auto_pad != "VALID")) {
      // The output size is given (or, for SAME_*, in × stride): the padding follows.
      int64_t wanted = g.in[j] * g.stride[j];
      if (!output_shape.empty()) {
        if (static_cast<int>(output_shape.size()) < s)
          ctx.fail("output_shape needs one value per dimension");
        wanted = output_shape[output_shape.size() - static_cast<std::size_t>(s) + u];
      }
      const int64_t total = std::max<int64_t>(full - wanted, 0);
      g.pad_begin[j] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      g.out[j] = wanted;
    } else {
      g.pad_begin[j] = pads[u];
      g.out[j] = full - pads[u] - pads[u + static_cast<std::size_t>(s)];
    }
    if (g.out[j] < 1) ctx.fail("the output would be empty");
  }
  return g;
}

void conv_transpose(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  if (x.type != ElemType::kFloat || w.type != ElemType::kFloat) ctx.fail("expects float X and W");
  const Geometry g = geometry(ctx, x, w);
  const int64_t group = ctx.node.attr_int("group", 1);
  const int64_t batch = x.dim(0), in_channels = x.dim(1);
  if (group < 1 || in_channels % group != 0 || w.dim(0) != in_channels) {
    ctx.fail("W must have X's channels first, and group must divide them");
  }
  const int64_t in_per_group = in_channels / group, out_per_group = w.dim(1);
  const int64_t out_channels = out_per_group * group;
  const Tensor* bias = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  if (bias && bias->size() != out_channels) ctx.fail("B must have one value per output channel");
  Shape shape = {batch, out_channels};
  for (int i = 3 - g.spatial; i < 3; ++i) shape.push_back(g.out[i]);
  Tensor& y = ctx.output(0, ElemType::kFloat, shape);
  const int64_t in_size = g.in[0] * g.in[1] * g.in[2];
  const int64_t out_size = g.out[0] * g.out[1] * g.out[2];
  const int64_t taps = g.kernel[0] * g.kernel[1] * g.kernel[2];
  const int64_t rows = out_per_group * taps;
  std::vector<float> columns(static_cast<std::size_t>(rows * in_size));
  const float* px = x.data<const float>();
  const float* pw = w.data<const float>();
  float* py = y.data<float>();
  std::memset(py, 0, y.byte_size());
  for (int64_t n = 0; n < batch; ++n) {
    for (int64_t gi = 0; gi < group; ++gi) {
      // columns[out channel, tap][input position] = Σ_c W[c, out channel, tap] · X[c, position]
      gemm(ctx.threads, true, false, rows, in_size, in_per_group, 1.f,
           pw + gi * in_per_group * rows, rows,
           px + (n * in_channels + gi * in_per_group) * in_size, in_size, 0.f, columns.data(),
           in_size);
      float* out = py + (n * out_channels + gi * out_per_group) * out_size;
      for (int64_t oc = 0; oc < out_per_group; ++oc) {
        for (int64_t k0 = 0; k0 < g.kernel[0]; ++k0) {
          for (int64_t k1 = 0; k1 < g.kernel[1]; ++k1) {
            for (int64_t k2 = 0; k2 < g.kernel[2]; ++k2) {
              const int64_t tap = (k0 * g.kernel[1] + k1) * g.kernel[2] + k2;
              const float* col = columns.data() + (oc * taps + tap) * in_size;
              float* plane = out + oc * out_size;
              for (int64_t i0 = 0; i0 < g.in[0]; ++i0) {
                const int64_t o0 = i0 * g.stride[0] - g.pad_begin[0] + k0 * g.dilation[0];
                if (o0 < 0 || o0 >= g.out[0]) continue;
                for (int64_t i1 = 0; i1 < g.in[1]; ++i1) {
                  const int64_t o1 = i1 * g.stride[1] - g.pad_begin[1] + k1 * g.dilation[1];
                  if (o1 < 0 || o1 >= g.out[1]) continue;
                  const float* src = col + (i0 * g.in[1] + i1) * g.in[2];
                  float* dst = plane + (o0 * g.out[1] + o1) * g.out[2];
                  for (int64_t i2 = 0; i2 < g.in[2]; ++i2) {
                    const int64_t o2 = i2 * g.stride[2] - g.pad_begin[2] + k2 * g.dilation[2];
                    if (o2 >= 0 && o2 < g.out[2]) dst[o2] += src[i2];
                  }
                }
              }
            }
          }
        }
      }
    }
    if (bias) {
      const float* b = bias->data<const float>();
      for (int64_t c = 0; c < out_channels; ++c) {
        float* plane = py + (n * out_channels + c) * out_size;
        for (int64_t i = 0; i < out_size; ++i) plane[i] += b[c];
      }
    }
  }
}

}  // namespace

void register_conv_transpose(OpTable& table) {
  table.add("ConvTranspose", conv_transpose, type_bit(ElemType::kFloat));
}

}  // namespace mg::cpu
