// MaxPool, AveragePool (1-D to 3-D; pads, strides, dilations, ceil_mode, auto_pad,
// count_include_pad) and the global pools.
#include <algorithm>
#include <limits>
#include <vector>

#include "plugins/cpu/kernel.h"
#include "plugins/cpu/kernels/array_ops.h"
#include "plugins/cpu/kernels/kernels.h"
#include "plugins/cpu/kernels/spatial.h"

namespace mg::cpu {
namespace {

// One window of a 2-D pool along axis d (1: rows, 2: columns) for output index o: the
// input indices it covers, [begin, end) clamped to the input, and its size counting
// explicit padding but not the overhang ceil_mode adds (count_include_pad's divisor).
struct Span {
  int64_t begin, end, padded;
};

Span span_of(const Window& w, int d, int64_t o) {
  const int64_t start = o * w.stride[d] - w.pad_begin[d], stop = start + w.kernel[d];
  return {std::max<int64_t>(start, 0), std::min(stop, w.in[d]),
          std::min(stop, w.in[d] + w.pad_end[d]) - start};
}

// One plane of a 2-D pool without dilation, one output row at a time: the window's input
// rows are first reduced into `across` element by element (a loop the compiler
// vectorises), then each output reduces its columns of `across`. Each window is clamped
// to the input once, so the inner loops carry no bounds checks.
template <bool kMax>
void pool_plane_2d(const float* plane, const Window& w, bool include_pad, float* dst,
                   std::vector<float>& across) {
  const int64_t in_w = w.in[2];
  across.resize(static_cast<std::size_t>(in_w));
  float* acc = across.data();
  for (int64_t oh = 0; oh < w.out[1]; ++oh) {
    const Span rows = span_of(w, 1, oh);
    const int64_t hs = rows.begin, h1 = rows.end;
    constexpr float kEmpty = kMax ? -std::numeric_limits<float>::infinity() : 0.f;
    if (hs < h1) {
      std::copy(plane + hs * in_w, plane + (hs + 1) * in_w, acc);
    } else {
      std::fill(acc, acc + in_w, kEmpty);  // a window of padding alone
    }
    for (int64_t ih = hs + 1; ih < h1; ++ih) {
      const float* row = plane + ih * in_w;
      for (int64_t iw = 0; iw < in_w; ++iw) {
        acc[iw] = kMax ? (row[iw] > acc[iw] ? row[iw] : acc[iw]) : acc[iw] + row[iw];
      }
    }
    for (int64_t ow = 0; ow < w.out[2]; ++ow) {
      const Span cols = span_of(w, 2, ow);
      const int64_t ws = cols.begin, w1 = cols.end;
      float v = ws < w1 ? acc[ws] : kEmpty;
      for (int64_t iw = ws + 1; iw < w1; ++iw) v = kMax ? (acc[iw] > v ? acc[iw] : v) : v + acc[iw];
      if (!kMax) {
        const int64_t count = include_pad ? rows.padded * cols.padded : (h1 - hs) * (w1 - ws);
        v /= static_cast<float>(count);
      }
      dst[oh * w.out[2] + ow] = v;
    }
  }
}

// A 2-D pool without dilation over a channel-last X (N, H, W, C), into a channel-last Y:
// each output pixel's row of C reduces the window's pixel rows (vectorised over C).
template <bool kMax>
void pool_channels_last(const Tensor& x, const Window& w, bool include_pad, Tensor& y,
                        ThreadPool& threads) {
  const int64_t channels = x.dim(1), in_h = w.in[1], in_w = w.in[2];
  const int64_t out_h = w.out[1], out_w = w.out[2];
  const float* in = x.data<const float>();
  float* out = y.data<float>();
  y.channels_last = true;
  constexpr float kStart = kMax ? -std::numeric_limits<float>::infinity() : 0.f;
  // Output rows (image, oh) split across threads.
  threads.parallel_for(x.dim(0) * out_h, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t n = r / out_h, oh = r % out_h;
      const Span rows = span_of(w, 1, oh);
      const int64_t hs = rows.begin, h1 = rows.end;
      for (int64_t ow = 0; ow < out_w; ++ow) {
        const Span cols = span_of(w, 2, ow);
        const int64_t ws = cols.begin, w1 = cols.end;
        float* dst = out + ((n * out_h + oh) * out_w + ow) * channels;
        std::fill(dst, dst + channels, kStart);
        for (int64_t ih = hs; ih < h1; ++ih) {
          for (int64_t iw = ws; iw < w1; ++iw) {
            const float* src = in + ((n * in_h + ih) * in_w + iw) * channels;
            for (int64_t c = 0; c < channels; ++c)
              dst[c] = kMax ? (src[c] > dst[c] ? src[c] : dst[c]) : dst[c] + src[c];
          }
        }
        if (!kMax) {
          const int64_t count = include_pad ? rows.padded * cols.padded : (h1 - hs) * (w1 - ws);
          for (int64_t c = 0; c < channels; ++c) dst[c] /= static_cast<float>(count);
        }
      }
    }
  });
}

template <bool kMax>
void pool(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.type != ElemType::kFloat) ctx.fail("expects float input");
  if (ctx.wants_output(1)) ctx.fail("the Indices output is not supported");
  Window w = make_window(ctx.node, x.shape, {}, ctx.node.opset >= 10);

  const bool include_pad = ctx.node.attr_int("count_include_pad", 0) != 0;
  Shape out_shape{x.dim(0), x.dim(1)};
  for (int d = 3 - w.spatial; d < 3; ++d) out_shape.push_back(w.out[d]);
  Tensor& y = ctx.output(0, ElemType::kFloat, out_shape);
  const int64_t planes = x.dim(0) * x.dim(1);
  const float* in = x.data<const float>();
  float* out = y.data<float>();
  const bool plain_2d =
      w.kernel[0] == 1 && w.in[0] == 1 && w.dilation[1] == 1 && w.dilation[2] == 1;
  if (x.channels_last) {  // layout.h holds only 2-D pools without dilation so
    if (!plain_2d || x.rank() != 4) ctx.fail("a channel-last input must be a 2-D pool's");
    pool_channels_last<kMax>(x, w, include_pad, y, ctx.threads);
    return;
  }
  // Split only when each thread gets enough outputs to repay the hand-off.
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(w.out_size(), 1));
  if (plain_2d) {
    ctx.threads.parallel_for(planes, grain, [&](int64_t p0, int64_t p1) {
      std::vector<float> across;
      for (int64_t p = p0; p < p1; ++p) {
        pool_plane_2d<kMax>(in + p * w.in_size(), w, include_pad, out + p * w.out_size(), across);
      }
    });
    return;
  }
  ctx.threads.parallel_for(planes, grain, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const float* plane = in + p * w.in_size();
      float* dst = out + p * w.out_size();
      for (int64_t od = 0; od < w.out[0]; ++od) {
        for (int64_t oh = 0; oh < w.out[1]; ++oh) {
          for (int64_t ow = 0; ow < w.out[2]; ++ow) {
            float acc = kMax ? -std::numeric_limits<float>::infinity() : 0.f;
            int64_t valid = 0, padded = 0;
            for (int64_t kd = 0; kd < w.kernel[0]; ++kd) {
              const int64_t id = od * w.stride[0] - w.pad_begin[0] + kd * w.dilation[0];
              for (int64_t kh = 0; kh < w.kernel[1]; ++kh) {
                const int64_t ih = oh * w.stride[1] - w.pad_begin[1] + kh * w.dilation[1];
                for (int64_t kw = 0; kw < w.kernel[2]; ++kw) {
                  const int64_t iw = ow * w.stride[2] - w.pad_begin[2] + kw * w.dilation[2];
                  const bool inside =
                      id >= 0 && id < w.in[0] && ih >= 0 && ih < w.in[1] && iw >= 0 && iw < w.in[2];
                  if (inside) {
                    float v = plane[(id * w.in[1] + ih) * w.in[2] + iw];
                    acc = kMax ? std::max(acc, v) : acc + v;
                    ++valid;
                  } else if (id < w.in[0] + w.pad_end[0] && ih < w.in[1] + w.pad_end[1] &&
                             iw < w.in[2] + w.pad_end[2]) {
                    ++padded;  // explicit padding, not the overhang ceil_mode adds
                  }
                }
              }
            }
            if (!kMax) acc /= static_cast<float>(include_pad ? valid + padded : valid);
            dst[(od * w.out[1] + oh) * w.out[2] + ow] = acc;
          }
        }
      }
    }
  });
}

template <bool kMax>
void global_pool(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.type != ElemType::kFloat) ctx.fail("expects float input");
  if (x.rank() < 3) ctx.fail("expects an input of rank 3 or more");
  Shape out_shape{x.dim(0), x.dim(1)};
  out_shape.resize(x.shape.size(), 1);
  Tensor& y = ctx.output(0, ElemType::kFloat, out_shape);
  const int64_t planes = x.dim(0) * x.dim(1), size = x.size() / std::max<int64_t>(planes, 1);
  const float* in = x.data<const float>();
  float* out = y.data<float>();
  constexpr float kStart = kMax ? -std::numeric_limits<float>::infinity() : 0.f;
  auto reduce = [](float a, float b) { return kMax ? (b > a ? b : a) : a + b; };
  if (x.channels_last) {  // (N, H, W, C): each pixel's channels reduce into one row of C
    const int64_t channels = x.dim(1);
    // A run of pixels into a row of C (contiguous: vectorised).
    auto reduce_pixels = [&](const float* pixels, int64_t count, float* row) {
      std::fill(row, row + channels, kStart);
      for (int64_t i = 0; i < count; ++i) {
        (kMax ? max_into : add_into)(pixels + i * channels, row, channels);
      }
    };
    const auto finish = [&](float* row) {
      if (!kMax) {
        for (int64_t c = 0; c < channels; ++c) row[c] /= static_cast<float>(size);
      }
    };
    const int64_t threads = ctx.threads.size();
    if (x.dim(0) >= threads || size * channels < 32768) {  // threads take whole images
      ctx.threads.parallel_for(x.dim(0), 1, [&](int64_t n0, int64_t n1) {
        for (int64_t n = n0; n < n1; ++n) {
          reduce_pixels(in + n * size * channels, size, out + n * channels);
          finish(out + n * channels);
        }
      });
      return;
    }
    // Fewer images than threads: each thread reduces a share of an image's pixels (the
    // same share of rows the kernels before it wrote on that thread) into a row of its
    // own, then the rows combine.
    std::vector<float> partial(static_cast<std::size_t>(threads * channels));
    for (int64_t n = 0; n < x.dim(0); ++n) {
      const float* image = in + n * size * channels;
      ctx.threads.parallel_for(threads, 1, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
          const int64_t p0 = size * t / threads, p1 = size * (t + 1) / threads;
          reduce_pixels(image + p0 * channels, p1 - p0, partial.data() + t * channels);
        }
      });
      float* row = out + n * channels;
      std::copy(partial.begin(), partial.begin() + channels, row);
      for (int64_t t = 1; t < threads; ++t) {
        (kMax ? max_into : add_into)(partial.data() + t * channels, row, channels);
      }
      finish(row);
    }
    return;
  }
  ctx.threads.parallel_for(planes, std::max<int64_t>(1, 32768 / std::max<int64_t>(size, 1)),
                           [&](int64_t p0, int64_t p1) {
                             for (int64_t p = p0; p < p1; ++p) {
                               const float* plane = in + p * size;
                               // Sixteen running results side by side (one vector register), then
                               // combined: a single running sum is a chain the CPU cannot overlap.
                               constexpr int64_t kLanes = 16;
                               float lanes[kLanes];
                               std::fill(lanes, lanes + kLanes, kStart);
                               int64_t i = 0;
                               for (; i + kLanes <= size; i += kLanes) {
                                 for (int64_t j = 0; j < kLanes; ++j)
                                   lanes[j] = reduce(lanes[j], plane[i + j]);
                               }
                               float acc = kStart;
                               for (; i < size; ++i) acc = reduce(acc, plane[i]);
                               for (float lane : lanes) acc = reduce(acc, lane);
                               out[p] = kMax ? acc : acc / static_cast<float>(size);
                             }
                           });
}

}  // namespace

void register_pool(OpTable& table) {
  table.add("MaxPool", pool<true>, type_bit(ElemType::kFloat));
  table.add("AveragePool", pool<false>, type_bit(ElemType::kFloat));
  table.set_check("MaxPool", [](const Node& node) -> std::string {
    return node.attr_int("storage_order", 0) != 0 ? "storage_order 1 is not supported" : "";
  });
  table.set_check("AveragePool", [](const Node& node) -> std::string {
    if (!node.attr("dilations")) return "";
    for (int64_t d : node.attr_ints("dilations")) {
      if (d != 1) return "AveragePool dilations need opset 19";
    }
    return "";
  });
  table.add("GlobalMaxPool", global_pool<true>, type_bit(ElemType::kFloat));
  table.add("GlobalAveragePool", global_pool<false>, type_bit(ElemType::kFloat));
}

}  // namespace mg::cpu
