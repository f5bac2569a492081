// Activation functions beyond Relu/Sigmoid/Tanh (elementwise.cpp): the hard, exponential
// and soft variants modern CNNs and generators use, and PRelu's learned slope.
#include <cmath>

#include "plugins/cpu/kernel.h"
#include "plugins/cpu/kernels/elementwise.h"
#include "plugins/cpu/kernels/kernels.h"

namespace mg::cpu {
namespace {

void hard_sigmoid(KernelContext& ctx) {
  const float alpha = ctx.node.attr_float("alpha", 0.2f);
  const float beta = ctx.node.attr_float("beta", 0.5f);
  unary_float(ctx, [alpha, beta](auto v) {
    using T = decltype(v);
    return std::max(T(0), std::min(T(1), T(alpha) * v + T(beta)));
  });
}

void hard_swish(KernelContext& ctx) {
  unary_float(ctx, [](auto v) {
    using T = decltype(v);
    return v * std::max(T(0), std::min(T(1), v / T(6) + T(0.5)));
  });
}

void elu(KernelContext& ctx) {
  const float alpha = ctx.node.attr_float("alpha", 1.f);
  unary_float(ctx, [alpha](auto v) {
    using T = decltype(v);
    return v >= T(0) ? v : T(alpha) * std::expm1(v);
  });
}

void selu(KernelContext& ctx) {
  const float alpha = ctx.node.attr_float("alpha", 1.67326319217681884765625f);
  const float gamma = ctx.node.attr_float("gamma", 1.05070102214813232421875f);
  unary_float(ctx, [alpha, gamma](auto v) {
    using T = decltype(v);
    return v > T(0) ? T(gamma) * v : T(gamma) * T(alpha) * std::expm1(v);
  });
}

void celu(KernelContext& ctx) {
  const float alpha = ctx.node.attr_float("alpha", 1.f);
  if (alpha == 0.f) ctx.fail("alpha must not be 0");
  unary_float(ctx, [alpha](auto v) {
    using T = decltype(v);
    return std::max(T(0), v) + std::min(T(0), T(alpha) * std::expm1(v / T(alpha)));
  });
}

void softplus(KernelContext& ctx) {
  // log(1 + e^x) without overflow: x + log(1 + e^-x) for positive x.
  unary_float(
      ctx, [](auto v) { return v > 0 ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v)); });
}

void softsign(KernelContext& ctx) {
  unary_float(ctx, [](auto v) { return v / (decltype(v)(1) + std::abs(v)); });
}

void thresholded_relu(KernelContext& ctx) {
  const float alpha = ctx.node.attr_float("alpha", 1.f);
  unary_float(ctx, [alpha](auto v) { return v > decltype(v)(alpha) ? v : decltype(v)(0); });
}

// PRelu: the slope broadcasts to X (per channel as exported from torch.nn.PReLU).
void prelu(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.type != ctx.input(1).type) ctx.fail("X and slope have different element types");
  if (!broadcasts_to(ctx.input(1).shape, x.shape)) {
    ctx.fail("slope " + shape_text(ctx.input(1).shape) + " does not broadcast to X " +
             shape_text(x.shape));
  }
  dispatch_numeric(ctx, x.type, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    binary_typed<T, T>(ctx, x.type, [](T v, T slope) { return v < T(0) ? v * slope : v; });
  });
}

}  // namespace

void register_activations(OpTable& table) {
  table.add("HardSigmoid", hard_sigmoid, kFloats);
  table.add("HardSwish", hard_swish, kFloats);
  table.add("Elu", elu, kFloats);
  table.add("Selu", selu, kFloats);
  table.add("Celu", celu, kFloats);
  table.add("Softplus", softplus, kFloats);
  table.add("Softsign", softsign, kFloats);
  table.add("ThresholdedRelu", thresholded_relu, kFloats);
  table.add("PRelu", prelu, kNumeric);
}

}  // namespace mg::cpu
