// Conv (1-D to 3-D; pads, strides, dilations, groups, auto_pad), with the fused Relu
// ("_relu") and 2×2 stride-2 MaxPool ("_maxpool2x2") the optimizer may attach: on oneDNN's
// convolution primitive (conv_onednn.cpp), or, for what oneDNN has no implementation of,
// as im2col + GEMM here.
#include "plugins/cpu/kernels/conv.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "plugins/cpu/cpu_error.h"
#include "plugins/cpu/kernel.h"
#include "plugins/cpu/kernels/conv_onednn.h"
#include "plugins/cpu/kernels/gemm.h"
#include "plugins/cpu/kernels/kernels.h"
#include "plugins/cpu/kernels/spatial.h"

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

// Copies n >= 4 floats as 4-float blocks, the last one overlapping the one before: rows
// here are a few dozen floats, where a loop's scalar remainder or a memcpy call costs as
// much as the copy (each fixed-size memcpy is one 16-byte load and store).
inline void copy_short_row(const float* src, float* dst, int64_t n) {
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) std::memcpy(dst + j, src + j, 4 * sizeof(float));
  if (j < n) std::memcpy(dst + n - 4, src + n - 4, 4 * sizeof(float));
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
          if (lo == 0 && hi == out_w && out_w >= 4) {
            copy_short_row(src, dst, out_w);
            continue;
          }
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

// One map of the GEMM's product, plus bias, into y: as is, or max-pooled 2×2 with stride
// 2 (floor mode: an odd last row or column is dropped, as MaxPool does). The activation
// last: a monotone one commutes with max and with the bias.
void store_map(const ConvPlan& p, const float* src, float bias, float* dst) {
  const ConvActivation& act = p.activation;
  if (!p.pool2x2) {
    if (act.kind == ConvActivation::Kind::kNone) {
      for (int64_t j = 0; j < p.out_size; ++j) dst[j] = src[j] + bias;
    } else {
      for (int64_t j = 0; j < p.out_size; ++j) dst[j] = act.apply(src[j] + bias);
    }
    return;
  }
  // Pooled first: the activation is monotone here (plan_conv checks).
  const int64_t in_w = p.w.out[2], out_h = p.w.out[1] / 2, out_w = p.w.out[2] / 2;
  for (int64_t r = 0; r < out_h; ++r, dst += out_w) {
    const float* r0 = src + 2 * r * in_w;
    const float* r1 = r0 + in_w;
    for (int64_t c = 0; c < out_w; ++c) {
      const float a = std::max(r0[2 * c], r0[2 * c + 1]), b = std::max(r1[2 * c], r1[2 * c + 1]);
      dst[c] = act.apply(std::max(a, b) + bias);
    }
  }
}

// Each of `images` [rows, cols] matrices from `from` transposed into `to`: channel-last
// (rows = pixels) to channel-first, or back (rows = channels).
void transpose_images(const float* from, float* to, int64_t images, int64_t rows, int64_t cols) {
  for (int64_t n = 0; n < images; ++n, from += rows * cols, to += rows * cols) {
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) to[c * rows + r] = from[r * cols + c];
    }
  }
}

// A pool of one: the chunk-parallel path runs each chunk's kernels on a single thread
// (ThreadPool with no workers is a plain loop, safe to share).
ThreadPool& single_thread_pool() {
  static ThreadPool alone(1);
  return alone;
}

// Images [n0, n0 + images) through im2col, one GEMM per group and the scatter back to
// NCHW with bias, the fused pool and Relu. Scratch is the calling thread's own, reused across
// calls.
void convolve_chunk(const ConvPlan& p, int64_t n0, int64_t images, ThreadPool& threads) {
  thread_local std::vector<float> col, product;
  const int64_t width = images * p.out_size;
  product.resize(static_cast<std::size_t>(p.m_group * width));
  if (!p.pointwise || images > 1) col.resize(static_cast<std::size_t>(p.col_rows * width));
  for (int64_t g = 0; g < p.group; ++g) {
    const float* source;
    if (p.pointwise && images == 1) {
      source = p.x + (n0 * p.channels + g * p.c_group) * p.out_size;
    } else {
      // Workers must use this thread's scratch, not their own thread_local copies.
      float* col_data = col.data();
      threads.parallel_for(images, 1, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
          const float* image = p.x + ((n0 + i) * p.channels + g * p.c_group) * p.w.in_size();
          if (p.pointwise) {
            for (int64_t c = 0; c < p.c_group; ++c) {
              std::copy(image + c * p.out_size, image + (c + 1) * p.out_size,
                        col_data + c * width + i * p.out_size);
            }
          } else {
            im2col(image, p.c_group, p.w, col_data + i * p.out_size, width);
          }
        }
      });
      source = col.data();
    }
    gemm(threads, false, false, p.m_group, width, p.col_rows, 1.f,
         p.weights + g * p.m_group * p.col_rows, p.col_rows, source, width, 0.f, product.data(),
         width);
    // Scatter [M, images · out_size] back to [images, M, y_size] (bias, pool, Relu).
    for (int64_t i = 0; i < images; ++i) {
      for (int64_t m = 0; m < p.m_group; ++m) {
        store_map(p, product.data() + m * width + i * p.out_size,
                  p.bias ? p.bias[g * p.m_group + m] : 0.f,
                  p.y + ((n0 + i) * p.maps + g * p.m_group + m) * p.y_size);
      }
    }
  }
}

void conv(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& weight = ctx.input(1);
  if (x.type != ElemType::kFloat || weight.type != ElemType::kFloat) ctx.fail("expects floats");
  ConvPlan plan = plan_conv(ctx.node, x.shape, weight.shape);
  Tensor& y = ctx.output(0, ElemType::kFloat, plan.y_shape);
  if (plan.batch == 0) return;
  plan.x = x.data<const float>();
  plan.weights = weight.data<const float>();
  plan.y = y.data<float>();
  plan.bias = ctx.has_input(2) ? ctx.input(2).data<const float>() : nullptr;
  if (plan.bias && ctx.input(2).size() != plan.maps) {
    ctx.fail("B must have one value per output map");
  }
  plan.x_channels_last = x.channels_last;
  plan.y_channels_last = y.channels_last = conv_output_channels_last(ctx.node.state.get());
  if (run_onednn_conv(plan, ctx.node.state.get(), ctx.threads)) return;
  std::vector<float> unpacked;  // W, when the graph keeps it only packed for oneDNN
  plan.weights = unpacked_conv_weights(plan, ctx.node.state.get(), unpacked);
  run_im2col_conv(plan, ctx.threads);
}

// The activation the optimizer fused into the node (its "_relu", "_clip", "_swish" or
// "_hardswish" attribute), or none.
ConvActivation fused_activation(const Node& node) {
  ConvActivation a;
  if (node.attr_int("_relu", 0) != 0) a.kind = ConvActivation::Kind::kRelu;
  if (node.attr_int("_swish", 0) != 0) a.kind = ConvActivation::Kind::kSwish;
  if (node.attr_int("_hardswish", 0) != 0) a.kind = ConvActivation::Kind::kHardSwish;
  if (const Attribute* clip = node.attr("_clip"); clip != nullptr && clip->floats.size() == 2) {
    a.kind = ConvActivation::Kind::kClip;
    a.lo = clip->floats[0];
    a.hi = clip->floats[1];
  }
  return a;
}

}  // namespace

ConvPlan plan_conv(const Node& node, const Shape& x, const Shape& weight) {
  auto fail = [&](const std::string& why) {
    throw CpuError(CpuError::kInvalid, node.where() + ": " + why);
  };
  if (x.size() < 3 || weight.size() != x.size()) fail("X and W must have the same rank, 3 to 5");
  ConvPlan plan;
  plan.group = node.attr_int("group", 1);
  plan.batch = x[0];
  plan.channels = x[1];
  plan.maps = weight[0];
  if (plan.group < 1 || plan.channels % plan.group != 0 || plan.maps % plan.group != 0 ||
      weight[1] != plan.channels / plan.group) {
    fail("channels " + std::to_string(plan.channels) + ", W " + shape_text(weight) + " and group " +
         std::to_string(plan.group) + " do not agree");
  }
  Shape kernel(weight.begin() + 2, weight.end());
  std::vector<int64_t> declared = node.attr_ints("kernel_shape");
  if (!declared.empty() && declared != kernel) fail("kernel_shape disagrees with W");
  plan.w = make_window(node, x, kernel, false);
  plan.pool2x2 = node.attr_int("_maxpool2x2", 0) != 0;
  if (plan.pool2x2 && plan.w.spatial != 2) fail("a fused 2x2 MaxPool needs a 2-D convolution");
  plan.activation = fused_activation(node);
  if (plan.pool2x2 && !plan.activation.monotone())
    fail("a fused MaxPool needs a monotone activation");
  plan.y_shape = {plan.batch, plan.maps};
  for (int d = 3 - plan.w.spatial; d < 3; ++d) {
    plan.y_shape.push_back(plan.pool2x2 ? plan.w.out[d] / 2 : plan.w.out[d]);
  }
  complete_plan(plan);
  return plan;
}

void complete_plan(ConvPlan& plan) {
  plan.c_group = plan.channels / plan.group;
  plan.m_group = plan.maps / plan.group;
  plan.col_rows = plan.c_group * plan.w.kernel_size();
  plan.out_size = plan.w.out_size();
  plan.pointwise = is_pointwise(plan.w);
  plan.y_size = plan.pool2x2 ? (plan.w.out[1] / 2) * (plan.w.out[2] / 2) : plan.out_size;
}

void run_im2col_conv(const ConvPlan& p, ThreadPool& threads) {
  if (p.batch == 0) return;  // nothing to compute, and no chunk size to divide by
  if (p.x_channels_last || p.y_channels_last) {
    ConvPlan plain = p;
    plain.x_channels_last = plain.y_channels_last = false;
    std::vector<float> x, y;
    if (p.x_channels_last) {
      x.resize(static_cast<std::size_t>(p.batch * p.channels * p.w.in_size()));
      transpose_images(p.x, x.data(), p.batch, p.w.in_size(), p.channels);
      plain.x = x.data();
    }
    if (p.y_channels_last) {
      y.resize(static_cast<std::size_t>(p.batch * p.maps * p.y_size));
      plain.y = y.data();
    }
    run_im2col_conv(plain, threads);
    if (p.y_channels_last) transpose_images(y.data(), p.y, p.batch, p.maps, p.y_size);
    return;
  }
  // Several images go through one GEMM, W [M, K] × [K, images · out_size] (small
  // per-image GEMMs waste most of their time packing), in chunks whose unfolded columns
  // stay in a core's L2 cache between im2col and the GEMM that reads them.
  constexpr int64_t kChunkScratchFloats = int64_t{1} << 17;  // 512 KiB
  const int64_t per_image =
      std::max<int64_t>((p.col_rows + p.m_group) * p.out_size, 1);  // col + product
  const int64_t chunk = std::clamp<int64_t>(kChunkScratchFloats / per_image, 1, p.batch);
  const int64_t chunks = (p.batch + chunk - 1) / chunk;
  auto images_of = [&](int64_t c) { return std::min(chunk, p.batch - c * chunk); };
  if (chunks >= threads.size() && threads.size() > 1) {
    // Enough chunks for every thread: each runs whole chunks (im2col, GEMM, scatter) on
    // its own core and cache.
    threads.parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
      ThreadPool& alone = single_thread_pool();
      for (int64_t c = c0; c < c1; ++c) convolve_chunk(p, c * chunk, images_of(c), alone);
    });
  } else {
    for (int64_t c = 0; c < chunks; ++c) convolve_chunk(p, c * chunk, images_of(c), threads);
  }
}

void register_conv(OpTable& table) {
  table.add("Conv", conv, type_bit(ElemType::kFloat), prepare_onednn_conv);
}

}  // namespace mg::cpu
