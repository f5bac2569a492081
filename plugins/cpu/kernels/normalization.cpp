// BatchNormalization (inference), Softmax and LogSoftmax.
#include <algorithm>
#include <cmath>
#include <limits>

#include "plugins/cpu/kernel.h"
#include "plugins/cpu/kernels/kernels.h"

namespace mg::cpu {
namespace {

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
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const float* src = in + o * len * inner + i;
      float* dst = out + o * len * inner + i;
      float max = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < len; ++j) max = std::max(max, src[j * inner]);
      double sum = 0;
      for (int64_t j = 0; j < len; ++j) {
        float e = std::exp(src[j * inner] - max);
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
  for (int64_t n = 0; n < x.dim(0); ++n) {
    for (int64_t c = 0; c < channels; ++c) {
      const float a = scale[c] / std::sqrt(var[c] + eps);
      const float b = bias[c] - mean[c] * a;
      const int64_t base = (n * channels + c) * inner;
      for (int64_t i = 0; i < inner; ++i) out[base + i] = in[base + i] * a + b;
    }
  }
}

}  // namespace

void register_normalization(OpTable& table) {
  table.add("Softmax", softmax<false>, type_bit(ElemType::kFloat));
  table.add("LogSoftmax", softmax<true>, type_bit(ElemType::kFloat));
  table.add("BatchNormalization", batch_norm, type_bit(ElemType::kFloat));
}

}  // namespace mg::cpu
