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
void im2col_generic(const float* image, int64_t channels, const Window& w, float* col) {
  const int64_t out_size = w.out_size();
  for (int64_t c = 0; c < channels; ++c) {
    const float* plane = image + c * w.in_size();
    for (int64_t kd = 0; kd < w.kernel[0]; ++kd) {
      for (int64_t kh = 0; kh < w.kernel[1]; ++kh) {
        for (int64_t kw = 0; kw < w.kernel[2]; ++kw) {
          float* row = col;
          col += out_size;
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
void im2col_2d_unit_stride(const float* image, int64_t channels, const Window& w, float* col) {
  const int64_t out_h = w.out[1], out_w = w.out[2], in_h = w.in[1], in_w = w.in[2];
  for (int64_t c = 0; c < channels; ++c) {
    const float* plane = image + c * in_h * in_w;
    for (int64_t kh = 0; kh < w.kernel[1]; ++kh) {
      for (int64_t kw = 0; kw < w.kernel[2]; ++kw) {
        const int64_t shift = kw * w.dilation[2] - w.pad_begin[2];  // iw = ow + shift
        const int64_t lo = std::clamp<int64_t>(-shift, 0, out_w);
        const int64_t hi = std::clamp<int64_t>(in_w - shift, lo, out_w);
        for (int64_t oh = 0; oh < out_h; ++oh, col += out_w) {
          const int64_t ih = oh * w.stride[1] - w.pad_begin[1] + kh * w.dilation[1];
          if (ih < 0 || ih >= in_h) {
            std::fill(col, col + out_w, 0.f);
            continue;
          }
          std::fill(col, col + lo, 0.f);
          std::copy(plane + ih * in_w + lo + shift, plane + ih * in_w + hi + shift, col + lo);
          std::fill(col + hi, col + out_w, 0.f);
        }
      }
    }
  }
}

void im2col(const float* image, int64_t channels, const Window& w, float* col) {
  if (w.kernel[0] == 1 && w.in[0] == 1 && w.stride[2] == 1) {
    im2col_2d_unit_stride(image, channels, w, col);
  } else {
    im2col_generic(image, channels, w, col);
  }
}

ThreadPool& serial_pool() {
  static ThreadPool pool(1);
  return pool;
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
  // Enough images: one thread per image range, each with serial GEMMs. Otherwise one
  // image at a time, with the GEMM split across the threads.
  const bool by_image = ctx.threads.size() > 1 && batch >= ctx.threads.size();
  ThreadPool& gemm_threads = by_image ? serial_pool() : ctx.threads;
  auto convolve = [&](int64_t n0, int64_t n1) {
    thread_local std::vector<float> col;  // per-thread im2col scratch, reused across calls
    if (!pointwise) col.resize(static_cast<std::size_t>(col_rows * out_size));
    for (int64_t n = n0; n < n1; ++n) {
      for (int64_t g = 0; g < group; ++g) {
        const float* image = x.data<const float>() + (n * channels + g * c_group) * w.in_size();
        float* out = y.data<float>() + (n * maps + g * m_group) * out_size;
        const float* source = image;
        if (!pointwise) {
          im2col(image, c_group, w, col.data());
          source = col.data();
        }
        float beta = 0.f;
        if (bias) {
          for (int64_t m = 0; m < m_group; ++m) {
            std::fill(out + m * out_size, out + (m + 1) * out_size, bias[g * m_group + m]);
          }
          beta = 1.f;
        }
        gemm(gemm_threads, false, false, m_group, out_size, col_rows, 1.f,
             weight.data<const float>() + g * m_group * col_rows, col_rows, source, out_size, beta,
             out, out_size);
        if (relu) {
          for (int64_t i = 0; i < m_group * out_size; ++i) out[i] = out[i] > 0.f ? out[i] : 0.f;
        }
      }
    }
  };
  if (by_image) {
    ctx.threads.parallel_for(batch, 1, convolve);
  } else {
    convolve(0, batch);
  }
}

}  // namespace

void register_conv(OpTable& table) { table.add("Conv", conv, type_bit(ElemType::kFloat)); }

}  // namespace mg::cpu
