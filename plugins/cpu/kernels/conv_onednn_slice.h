#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "plugins/cpu/kernels/conv.h"
#include "plugins/cpu/kernels/onednn.h"

namespace mg::cpu {

// One slice of a batch (a few images, a band of one image's rows, or some of its output
// channels) through oneDNN: the primitives made for a slice shape, and running them.

// Everything one slice shape runs: [reorder in] → conv (+Relu) → [pool] → [reorder out].
struct SlicePrimitives {
  dnnl::memory::desc user_src, conv_src, conv_dst, pool_dst, user_dst, weights;
  dnnl::reorder src_reorder;  // empty when the convolution reads NCHW itself
  dnnl::convolution_forward conv;
  dnnl::pooling_forward pool;  // empty unless a pool is fused
  dnnl::reorder dst_reorder;   // empty when the last result is NCHW already
  std::string implementation;  // oneDNN's name for the convolution's implementation
  std::size_t scratchpad_bytes = 0;
  std::size_t conv_src_bytes = 0, conv_dst_bytes = 0, pool_dst_bytes = 0;
};

// Null when oneDNN has no implementation for this convolution (or refuses its geometry,
// or has only its reference one, which is ~30× slower than im2col): the caller then uses
// im2col. `whole` is the window of the plan a band was cut from (null: p is whole).
std::shared_ptr<const SlicePrimitives> make_conv_slice(const ConvPlan& p, int64_t images,
                                                       bool winograd,
                                                       const Window* whole = nullptr);

// Images [n0, n0 + images) of the plan through one slice's primitives, on this thread.
void run_conv_slice(const ConvPlan& p, const SlicePrimitives& s, const dnnl::memory& weights,
                    int64_t n0);

// W's descriptor in ONNX's layout (plain OIHW, GOIHW when grouped).
dnnl::memory::desc conv_user_weights_desc(const ConvPlan& p);

}  // namespace mg::cpu
