// Conv (1-D to 3-D; pads, strides, dilations, groups, auto_pad) as im2col + GEMM, with the
// fused activation the optimizer may attach ("_relu").
#include <algorithm>
#include <cstring>

#include "../kernel.h"
#include "gemm.h"
#include "kernels.h"
#include "spatial.h"

namespace mg::cpu {
namespace {

// Unfolds the windows of one image's channels [C, D, H, W] into col
// [C · kD · kH · kW, oD · oH · oW], zero where a window covers padding.
void im2col_generic(const float* image, int64_t channels, const Window& w, float* col, int64_t ld) {
  const int64_t out_size = w.out_size();
  (void)out_size;
  for (int64_t c = 0; c < channels; ++c) {
    const float* plane = image + c * w.in_size();
    for (int64_t kd = 0; kd < w.kernel[0]; ++kd) {
      for (int64_t kh = 0; kh < w.kernel[1]; ++kh) {
        for (int64_t kw = 0; kw < w.kernel[2]; ++kw) {
          float* row = col;
          col += ld;
          for (int64_t od = 0; od < w.out[0]; ++od) {
            const int64_t id = od * w.stride[0] - w.pad_begin[0] + kd * w.dilation[0];
            const bool d_in = id >= 0 && id < w.in[0];
            for (int64_t oh = 0; oh < w.out[1]; ++oh) {
              const int64_t ih = oh * w.stride[1] - w.pad_begin[1] + kh * w.dilation[1];
              float* dst = row + (od * w.out[1] + oh) * w.out[2];
              if (!d_in || ih < 0 || ih >= w.in[1]) {
                std::fill(dst, dst + w.out[2], 0.f);
                continue;
              }
              const float* src = plane + (id * w.in[1] + ih) * w.in[2];
              for (int64_t ow = 0; ow < w.out[2]; ++ow) {
                const int64_t iw = ow * w.stride[2] - w.pad_begin[2] + kw * w.dilation[2];
                dst[ow] = (iw >= 0 && iw < w.in[2]) ? src[iw] : 0.f;
              }
            }
          }
        }
      }
    }
  }
}

// The 2-D case with unit horizontal stride, which covers most real convolutions: each
// output row of a window position is one contiguous copy.
void im2col_2d_unit_stride(const float* image, int64_t channels, const Window& w, float* col,
                           int64_t ld) {
  const int64_t out_h = w.out[1], out_w = w.out[2], in_h = w.in[1], in_w = w.in[2];
  for (int64_t c = 0; c < channels; ++c) {
    const float* plane = image + c * in_h * in_w;
    for (int64_t kh = 0; kh < w.kernel[1]; ++kh) {
      for (int64_t kw = 0; kw < w.kernel[2]; ++kw) {
        const int64_t shift = kw * w.dilation[2] - w.pad_begin[2];  // iw = ow + shift
        const int64_t lo = std::clamp<int64_t>(-shift, 0, out_w);
        const int64_t hi = std::clamp<int64_t>(in_w - shift, lo, out_w);
        float* dst = col;
        col += ld;
        for (int64_t oh = 0; oh < out_h; ++oh, dst += out_w) {
          const int64_t ih = oh * w.stride[1] - w.pad_begin[1] + kh * w.dilation[1];
          // Rows are short (tens of floats): plain loops beat memcpy/memset calls here.
          if (ih < 0 || ih >= in_h) {
            for (int64_t j = 0; j < out_w; ++j) dst[j] = 0.f;
            continue;
          }
          const float* src = plane + ih * in_w + shift;
          for (int64_t j = 0; j < lo; ++j) dst[j] = 0.f;
          for (int64_t j = lo; j < hi; ++j) dst[j] = src[j];
          for (int64_t j = hi; j < out_w; ++j) dst[j] = 0.f;
        }
      }
    }
  }
}

// Writes the image's [K, out_size] column block into col, whose rows are ld apart (so
// several images' blocks can sit side by side as one [K, images · out_size] matrix).
void im2col(const float* image, int64_t channels, const Window& w, float* col, int64_t ld) {
  if (w.kernel[0] == 1 && w.in[0] == 1 && w.stride[2] == 1) {
    im2col_2d_unit_stride(image, channels, w, col, ld);
  } else {
    im2col_generic(image, channels, w, col, ld);
  }
}

bool is_pointwise(const Window& w) {
  for (int i = 0; i < 3; ++i) {
    if (w.kernel[i] != 1 || w.stride[i] != 1 || w.pad_begin[i] != 0 || w.pad_end[i] != 0) {
      return false;
    }
  }
  return true;
}

void conv(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& weight = ctx.input(1);
  if (x.type != ElemType::kFloat || weight.type != ElemType::kFloat) ctx.fail("expects floats");
  if (weight.rank() != x.rank()) ctx.fail("W must have the rank of X");
  const int64_t group = ctx.node.attr_int("group", 1);
  const int64_t batch = x.dim(0), channels = x.dim(1), maps = weight.dim(0);
  if (group < 1 || channels % group != 0 || maps % group != 0 ||
      weight.dim(1) != channels / group) {
    ctx.fail("channels " + std::to_string(channels) + ", W " + shape_text(weight.shape) +
             " and group " + std::to_string(group) + " do not agree");
  }
  Shape kernel(weight.shape.begin() + 2, weight.shape.end());
  std::vector<int64_t> declared = ctx.node.attr_ints("kernel_shape");
  if (!declared.empty() && declared != kernel) ctx.fail("kernel_shape disagrees with W");
  Window w = make_window(ctx.node, x.shape, kernel, false);
  Shape out_shape{batch, maps};
  for (int d = 3 - w.spatial; d < 3; ++d) out_shape.push_back(w.out[d]);
  Tensor& y = ctx.output(0, ElemType::kFloat, out_shape);

  const int64_t c_group = channels / group, m_group = maps / group;
  const int64_t col_rows = c_group * w.kernel_size(), out_size = w.out_size();
  const bool pointwise = is_pointwise(w);
  const float* bias = ctx.has_input(2) ? ctx.input(2).data<const float>() : nullptr;
  if (bias && ctx.input(2).size() != maps) ctx.fail("B must have one value per output map");
  const bool relu = ctx.node.attr_int("_relu", 0) != 0;
  // Several images go through one GEMM, W [M, K] × [K, images · out_size]: small
  // per-image GEMMs waste most of their time packing. Chunks keep the scratch bounded.
  constexpr int64_t kMaxScratchFloats = int64_t{4} << 20;  // 16 MiB
  const int64_t chunk =
      std::clamp<int64_t>(kMaxScratchFloats / std::max<int64_t>(col_rows * out_size, 1), 1, batch);
  thread_local std::vector<float> col, product;  // scratch, reused across calls
  const float* weights = weight.data<const float>();
  for (int64_t n0 = 0; n0 < batch; n0 += chunk) {
    const int64_t images = std::min(chunk, batch - n0), width = images * out_size;
    product.resize(static_cast<std::size_t>(m_group * width));
    if (!pointwise) col.resize(static_cast<std::size_t>(col_rows * width));
    for (int64_t g = 0; g < group; ++g) {
      const float* source;
      if (pointwise && images == 1) {
        source = x.data<const float>() + (n0 * channels + g * c_group) * out_size;
      } else {
        if (pointwise) col.resize(static_cast<std::size_t>(col_rows * width));
        // Workers must use this thread's scratch, not their own thread_local copies.
        float* col_data = col.data();
        ctx.threads.parallel_for(images, 1, [&](int64_t i0, int64_t i1) {
          for (int64_t i = i0; i < i1; ++i) {
            const float* image =
                x.data<const float>() + ((n0 + i) * channels + g * c_group) * w.in_size();
            if (pointwise) {
              for (int64_t c = 0; c < c_group; ++c) {
                std::copy(image + c * out_size, image + (c + 1) * out_size,
                          col_data + c * width + i * out_size);
              }
            } else {
              im2col(image, c_group, w, col_data + i * out_size, width);
            }
          }
        });
        source = col.data();
      }
      gemm(ctx.threads, false, false, m_group, width, col_rows, 1.f,
           weights + g * m_group * col_rows, col_rows, source, width, 0.f, product.data(), width);
      // Scatter [M, images · out_size] back to [images, M, out_size], adding bias and Relu.
      for (int64_t i = 0; i < images; ++i) {
        for (int64_t m = 0; m < m_group; ++m) {
          const float* src = product.data() + m * width + i * out_size;
          float* dst = y.data<float>() + ((n0 + i) * maps + g * m_group + m) * out_size;
          const float b = bias ? bias[g * m_group + m] : 0.f;
          if (relu) {
            for (int64_t j = 0; j < out_size; ++j) {
              const float v = src[j] + b;
              dst[j] = v > 0.f ? v : 0.f;
            }
          } else {
            for (int64_t j = 0; j < out_size; ++j) dst[j] = src[j] + b;
          }
        }
      }
    }
  }
}

}  // namespace

void register_conv(OpTable& table) { table.add("Conv", conv, type_bit(ElemType::kFloat)); }

}  // namespace mg::cpu
