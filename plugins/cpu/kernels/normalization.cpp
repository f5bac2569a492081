// BatchNormalization (inference), LayerNormalization, InstanceNormalization, Softmax
// and LogSoftmax.
#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "plugins/cpu/kernel.h"
#include "plugins/cpu/kernels/array_ops.h"
#include "plugins/cpu/kernels/broadcast.h"
#include "plugins/cpu/kernels/fast_math.h"
#include "plugins/cpu/kernels/kernels.h"

namespace mg::cpu {
namespace {

// The largest of n floats, in four independent chains (a short row's max is latency-bound).
float row_max(const float* x, int64_t n) {
  float m[4] = {-std::numeric_limits<float>::infinity(), m[0], m[0], m[0]};
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    for (int k = 0; k < 4; ++k) m[k] = std::max(m[k], x[j + k]);
  }
  for (; j < n; ++j) m[0] = std::max(m[0], x[j]);
  return std::max(std::max(m[0], m[1]), std::max(m[2], m[3]));
}

// The sum of n floats in double, in four independent chains.
double row_sum(const float* x, int64_t n) {
  double s[4] = {0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    for (int k = 0; k < 4; ++k) s[k] += x[j + k];
  }
  for (; j < n; ++j) s[0] += x[j];
  return (s[0] + s[1]) + (s[2] + s[3]);
}

// Softmax over contiguous rows (the axis is the last one, as in attention and
// classifiers): every row shifted by its max, then one vectorised exp over the whole
// block, then each row scaled by (or, for LogSoftmax, shifted by the log of) its sum.
template <bool kLog>
void softmax_rows(const float* in, float* out, int64_t rows, int64_t len) {
  std::vector<float> shift(kLog ? static_cast<std::size_t>(rows) : 0);  // LogSoftmax's maxima
  for (int64_t r = 0; r < rows; ++r) {
    const float* src = in + r * len;
    float* dst = out + r * len;
    const float max = row_max(src, len);
    if (kLog) shift[static_cast<std::size_t>(r)] = max;
    for (int64_t j = 0; j < len; ++j) dst[j] = src[j] - max;
  }
  exp_floats(out, out, rows * len);
  for (int64_t r = 0; r < rows; ++r) {
    float* dst = out + r * len;
    const double sum = row_sum(dst, len);
    if (kLog) {
      const float sub = shift[static_cast<std::size_t>(r)] + static_cast<float>(std::log(sum));
      const float* src = in + r * len;
      for (int64_t j = 0; j < len; ++j) dst[j] = src[j] - sub;
    } else {
      const auto scale = static_cast<float>(1.0 / sum);
      for (int64_t j = 0; j < len; ++j) dst[j] *= scale;
    }
  }
}

template <bool kLog>
void softmax(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.type != ElemType::kFloat) ctx.fail("expects float input");
  const bool legacy = ctx.node.opset < 13;  // before 13 the input is coerced to 2-D
  const int64_t axis =
      ctx.axis(ctx.node.attr_int("axis", legacy ? 1 : -1), std::max<int64_t>(x.rank(), 1));
  int64_t outer = 1, len = 1, inner = 1;
  for (int64_t d = 0; d < x.rank(); ++d) {
    if (d < axis) {
      outer *= x.dim(d);
    } else if (d == axis || legacy) {
      len *= x.dim(d);
    } else {
      inner *= x.dim(d);
    }
  }
  Tensor& y = ctx.output(0, ElemType::kFloat, x.shape);
  const float* in = x.data<const float>();
  float* out = y.data<float>();
  if (inner == 1) {
    softmax_rows<kLog>(in, out, outer, len);
    return;
  }
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const float* src = in + o * len * inner + i;
      float* dst = out + o * len * inner + i;
      float max = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < len; ++j) max = std::max(max, src[j * inner]);
      double sum = 0;
      for (int64_t j = 0; j < len; ++j) {
        float e = fast_exp(src[j * inner] - max);
        if (!kLog) dst[j * inner] = e;
        sum += e;
      }
      if (kLog) {
        const float log_sum = static_cast<float>(std::log(sum));
        for (int64_t j = 0; j < len; ++j) dst[j * inner] = src[j * inner] - max - log_sum;
      } else {
        const float scale = static_cast<float>(1.0 / sum);
        for (int64_t j = 0; j < len; ++j) dst[j * inner] *= scale;
      }
    }
  }
}

void batch_norm(KernelContext& ctx) {
  for (std::size_t i = 1; i < ctx.node.outputs.size(); ++i) {
    if (ctx.wants_output(i)) ctx.fail("training outputs are not supported");
  }
  if (ctx.node.attr_int("training_mode", 0) != 0) ctx.fail("training_mode is not supported");
  const Tensor& x = ctx.input(0);
  if (x.type != ElemType::kFloat || x.rank() < 2) ctx.fail("expects float input of rank >= 2");
  const int64_t channels = x.dim(1);
  for (std::size_t i = 1; i <= 4; ++i) {
    if (ctx.input(i).size() != channels)
      ctx.fail("parameter " + std::to_string(i) + " must have C values");
  }
  const float eps = ctx.node.attr_float("epsilon", 1e-5f);
  const float* scale = ctx.input(1).data<const float>();
  const float* bias = ctx.input(2).data<const float>();
  const float* mean = ctx.input(3).data<const float>();
  const float* var = ctx.input(4).data<const float>();
  Tensor& y = ctx.output(0, ElemType::kFloat, x.shape);
  const int64_t inner = x.size() / std::max<int64_t>(x.dim(0) * channels, 1);
  const float* in = x.data<const float>();
  float* out = y.data<float>();
  const bool relu = ctx.node.attr_int("_relu", 0) != 0;  // fused by the optimizer
  std::vector<float> a(static_cast<std::size_t>(channels)), b(a.size());
  batch_norm_affine(scale, bias, mean, var, eps, channels, a.data(), b.data());
  if (x.channels_last && x.rank() == 4) {  // (N, H, W, C): each pixel's row of C
    const int64_t pixels = x.size() / std::max<int64_t>(channels, 1);
    ctx.threads.parallel_for(pixels, std::max<int64_t>(1, 32768 / std::max<int64_t>(channels, 1)),
                             [&](int64_t p0, int64_t p1) {
                               for (int64_t p = p0; p < p1; ++p) {
                                 scale_shift_rows(in + p * channels, a.data(), b.data(),
                                                  out + p * channels, channels, relu);
                               }
                             });
    return;
  }
  // One plane (image, channel) at a time, split across threads in pieces of ~32k values.
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(inner, 1));
  ctx.threads.parallel_for(x.dim(0) * channels, grain, [&](int64_t p0, int64_t p1) {
    for (int64_t plane = p0; plane < p1; ++plane) {
      const auto c = static_cast<std::size_t>(plane % channels);
      scale_shift_plane(in + plane * inner, a[c], b[c], out + plane * inner, inner, relu);
    }
  });
}

// The mean and (population) variance of `len` floats, in double, two passes, each
// with eight running sums side by side (one running sum is a chain the CPU cannot
// overlap; eight vectorise).
std::pair<double, double> mean_and_variance(const float* src, int64_t len) {
  if (len <= 0) return {0.0, 0.0};
  constexpr int64_t kLanes = 8;
  auto sum_of = [&](auto term) {
    double lanes[kLanes] = {};
    int64_t i = 0;
    for (; i + kLanes <= len; i += kLanes) {
      for (int64_t j = 0; j < kLanes; ++j) lanes[j] += term(src[i + j]);
    }
    double sum = 0;
    for (; i < len; ++i) sum += term(src[i]);
    for (double lane : lanes) sum += lane;
    return sum;
  };
  const double mean = sum_of([](float v) { return double{v}; }) / static_cast<double>(len);
  const double squares = sum_of([mean](float v) { return (v - mean) * (v - mean); });
  return {mean, squares / static_cast<double>(len)};
}

// `param` (Scale or B) broadcast to `shape` (the normalised dimensions), as one row.
std::vector<float> broadcast_row(const KernelContext& ctx, const Tensor& param,
                                 const Shape& shape) {
  if (param.type != ElemType::kFloat) ctx.fail("Scale and B must be float");
  if (!broadcasts_to(param.shape, shape)) {
    ctx.fail("parameter " + shape_text(param.shape) + " does not broadcast to " +
             shape_text(shape));
  }
  std::vector<float> row(static_cast<std::size_t>(num_elements(shape)));
  const float* p = param.data<const float>();
  for_each_broadcast<1>(shape, {&param.shape},
                        [&](int64_t o, const std::array<int64_t, 1>& off, int64_t inner,
                            const std::array<int64_t, 1>& st) {
                          for (int64_t i = 0; i < inner; ++i)
                            row[static_cast<std::size_t>(o + i)] = p[off[0] + i * st[0]];
                        });
  return row;
}

// LayerNormalization (opset 17): each row of the dimensions from `axis` on is normalised
// to mean 0 and variance 1 (statistics in double), then scaled and shifted. The optional
// Mean and InvStdDev outputs keep X's leading dimensions and 1s after.
void layer_norm(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.type != ElemType::kFloat) ctx.fail("expects float input");
  const int64_t axis = ctx.axis(ctx.node.attr_int("axis", -1), std::max<int64_t>(x.rank(), 1));
  const float eps = ctx.node.attr_float("epsilon", 1e-5f);
  Shape row_shape(x.shape.begin() + axis, x.shape.end());
  Shape stat_shape = x.shape;
  for (int64_t d = axis; d < x.rank(); ++d) stat_shape[static_cast<std::size_t>(d)] = 1;
  const int64_t len = num_elements(row_shape);
  const int64_t rows = len > 0 ? x.size() / len : 0;
  const std::vector<float> scale = broadcast_row(ctx, ctx.input(1), row_shape);
  std::vector<float> bias;
  if (ctx.has_input(2)) bias = broadcast_row(ctx, ctx.input(2), row_shape);
  Tensor& y = ctx.output(0, ElemType::kFloat, x.shape);
  float* mean_out =
      ctx.wants_output(1) ? ctx.output(1, ElemType::kFloat, stat_shape).data<float>() : nullptr;
  float* inv_out =
      ctx.wants_output(2) ? ctx.output(2, ElemType::kFloat, stat_shape).data<float>() : nullptr;
  const float* in = x.data<const float>();
  float* out = y.data<float>();
  ctx.threads.parallel_for(rows, std::max<int64_t>(1, 4096 / std::max<int64_t>(len, 1)),
                           [&](int64_t begin, int64_t end) {
                             for (int64_t r = begin; r < end; ++r) {
                               const float* src = in + r * len;
                               float* dst = out + r * len;
                               const auto [mean, variance] = mean_and_variance(src, len);
                               const float inv =
                                   static_cast<float>(1.0 / std::sqrt(variance + eps));
                               const float m = static_cast<float>(mean);
                               const float* g = scale.data();
                               for (int64_t i = 0; i < len; ++i) dst[i] = (src[i] - m) * inv * g[i];
                               if (!bias.empty()) {
                                 for (int64_t i = 0; i < len; ++i)
                                   dst[i] += bias[static_cast<std::size_t>(i)];
                               }
                               if (mean_out != nullptr) mean_out[r] = m;
                               if (inv_out != nullptr) inv_out[r] = inv;
                             }
                           });
}

// InstanceNormalization: each (image, channel) plane normalised on its own, then scaled
// and shifted per channel.
void instance_norm(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.type != ElemType::kFloat || x.rank() < 3) ctx.fail("expects float input of rank >= 3");
  const int64_t channels = x.dim(1);
  if (ctx.input(1).size() != channels || ctx.input(2).size() != channels) {
    ctx.fail("scale and B must have C values");
  }
  const float eps = ctx.node.attr_float("epsilon", 1e-5f);
  const float* scale = ctx.input(1).data<const float>();
  const float* bias = ctx.input(2).data<const float>();
  Tensor& y = ctx.output(0, ElemType::kFloat, x.shape);
  const int64_t planes = x.dim(0) * channels;
  const int64_t len = planes > 0 ? x.size() / planes : 0;
  const float* in = x.data<const float>();
  float* out = y.data<float>();
  ctx.threads.parallel_for(planes, 1, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const float* src = in + p * len;
      float* dst = out + p * len;
      const auto [mean, variance] = mean_and_variance(src, len);
      const int64_t c = p % channels;
      const float a = static_cast<float>(scale[c] / std::sqrt(variance + eps));
      const float b = static_cast<float>(bias[c] - mean * a);
      for (int64_t i = 0; i < len; ++i) dst[i] = src[i] * a + b;
    }
  });
}

}  // namespace

void register_normalization(OpTable& table) {
  table.add("Softmax", softmax<false>, type_bit(ElemType::kFloat));
  table.add("LogSoftmax", softmax<true>, type_bit(ElemType::kFloat));
  table.add("BatchNormalization", batch_norm, type_bit(ElemType::kFloat));
  table.add("LayerNormalization", layer_norm, type_bit(ElemType::kFloat));
  table.add("InstanceNormalization", instance_norm, type_bit(ElemType::kFloat));
}

}  // namespace mg::cpu
