#pragma once

#include "../kernel.h"
#include "spatial.h"

namespace mg::cpu {

// A 2-D convolution (float, any pads, strides, dilations, groups; optional bias and the
// fused Relu) on oneDNN's convolution primitive: direct JIT kernels on blocked layouts,
// several times faster than im2col + GEMM for real image models. y is [N, M, oH, oW].
// Primitives are created once per shape and kept; the images are split over the
// instance's threads, each running the primitive single-threaded on its share.
void conv2d_dnnl(KernelContext& ctx, const Window& w, int64_t group, bool relu, Tensor& y);

}  // namespace mg::cpu
