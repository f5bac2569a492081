#include "plugins/cpu/kernels/conv_onednn_slice.h"

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "plugins/cpu/kernels/thread_scratch.h"

namespace mg::cpu {

using dnnl::memory;
using Tag = memory::format_tag;

namespace {

// The last `count` of a Window's three per-dimension values (its real spatial ones).
memory::dims tail(const int64_t (&v)[3], int count, int64_t minus = 0) {
  memory::dims dims(v + 3 - count, v + 3);
  for (auto& d : dims) d -= minus;
  return dims;
}

Tag plain_data_tag(int spatial) {
  return spatial == 1 ? Tag::ncw : spatial == 2 ? Tag::nchw : Tag::ncdhw;
}

Tag data_tag(int spatial, bool channels_last) {
  if (!channels_last) return plain_data_tag(spatial);
  return spatial == 1 ? Tag::nwc : spatial == 2 ? Tag::nhwc : Tag::ndhwc;
}

// [N, C, spatial…] of a band or of some channels inside a plain tensor of `channels`
// channels whose spatial extents are `whole`'s, channel-first or channel-last.
memory::desc part_desc(const memory::dims& dims, const memory::dims& whole, int64_t channels,
                       bool channels_last) {
  memory::dims strides(dims.size());
  int64_t stride = channels_last ? channels : 1;
  for (std::size_t i = whole.size(); i-- > 0;) {
    strides[2 + i] = stride;
    stride *= whole[i];
  }
  const int64_t plane = stride / (channels_last ? channels : 1);  // the whole spatial size
  strides[1] = channels_last ? 1 : plane;
  strides[0] = channels * plane;
  return memory::desc(dims, memory::data_type::f32, strides);
}

Tag plain_weights_tag(int spatial, bool grouped) {
  if (grouped) return spatial == 1 ? Tag::goiw : spatial == 2 ? Tag::goihw : Tag::goidhw;
  return spatial == 1 ? Tag::oiw : spatial == 2 ? Tag::oihw : Tag::oidhw;
}

dnnl::primitive_attr user_scratchpad_attr() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

dnnl::reorder make_reorder(const memory::desc& from, const memory::desc& to,
                           std::size_t& scratchpad_bytes) {
  const auto& engine = cpu_engine();
  dnnl::reorder::primitive_desc pd(engine, from, engine, to, user_scratchpad_attr());
  scratchpad_bytes = std::max(scratchpad_bytes, pd.scratchpad_desc().get_size());
  return dnnl::reorder(pd);
}

// Winograd for slices of at least this many images: single images ran slower with it than
// direct (seed CNN, batch 1: 63 vs 57 µs) and would hold W transformed once more.
constexpr int64_t kMinWinogradImages = 4;

std::size_t round_up(std::size_t bytes) { return (bytes + 63) / 64 * 64; }

}  // namespace

// oneDNN judges the rest (it has Winograd kernels for AVX-512 only) by offering no
// implementation; then the direct one runs.
bool winograd_fits(const Window& w, int64_t group) {
  return w.spatial == 2 && group == 1 && w.kernel[1] == 3 && w.kernel[2] == 3 && w.stride[1] == 1 &&
         w.stride[2] == 1 && w.dilation[1] == 1 && w.dilation[2] == 1;
}

memory::desc conv_user_weights_desc(const ConvPlan& p) {
  const int sp = p.w.spatial;
  memory::dims dims;
  if (p.group > 1) dims.push_back(p.group);
  dims.push_back(p.m_group);
  dims.push_back(p.c_group);
  for (int64_t k : tail(p.w.kernel, sp)) dims.push_back(k);
  return memory::desc(dims, memory::data_type::f32, plain_weights_tag(sp, p.group > 1));
}

std::shared_ptr<const SlicePrimitives> make_conv_slice(const ConvPlan& p, int64_t images,
                                                       bool winograd, const Window* whole) {
  // Primitives size their work split for the creating thread's OpenMP threads: one, as
  // they will run (whichever thread loads the model).
  use_one_openmp_thread();
  const auto& engine = cpu_engine();
  const auto f32 = memory::data_type::f32;
  const int sp = p.w.spatial;
  const Window& w = p.w;
  auto with_spatial = [&](int64_t channels, memory::dims spatial) {
    memory::dims dims{images, channels};
    dims.insert(dims.end(), spatial.begin(), spatial.end());
    return dims;
  };
  const memory::dims src_dims = with_spatial(p.channels, tail(w.in, sp));
  const memory::dims dst_dims = with_spatial(p.maps, tail(w.out, sp));
  try {
    auto s = std::make_shared<SlicePrimitives>();
    s->user_src = whole ? part_desc(src_dims, tail(whole->in, sp), p.channels, p.x_channels_last)
                        : memory::desc(src_dims, f32, data_tag(sp, p.x_channels_last));
    dnnl::primitive_attr attr = user_scratchpad_attr();
    if (p.activation.kind != ConvActivation::Kind::kNone) {
      dnnl::post_ops activation;
      switch (p.activation.kind) {
        case ConvActivation::Kind::kRelu:
          activation.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
          break;
        case ConvActivation::Kind::kClip:
          activation.append_eltwise(1.f, dnnl::algorithm::eltwise_clip, p.activation.lo,
                                    p.activation.hi);
          break;
        case ConvActivation::Kind::kSwish:  // x·sigmoid(αx), α = 1
          activation.append_eltwise(1.f, dnnl::algorithm::eltwise_swish, 1.f, 0.f);
          break;
        default:  // HardSwish: x·max(0, min(1, x/6 + 1/2))
          activation.append_eltwise(1.f, dnnl::algorithm::eltwise_hardswish, 0.f, 0.f);
      }
      attr.set_post_ops(activation);
    }
    memory::desc weights_any = conv_user_weights_desc(p);
    weights_any = memory::desc(weights_any.dims(), f32, Tag::any);
    // With few input channels (a network's first layer) oneDNN's JIT kernels read X as
    // it is and write a blocked layout; given the choice it takes a channel-last kernel
    // that measured 25 % slower on the seed CNN's first layer. Not for grouped
    // convolutions: a depthwise one (one channel per group) held to plain NCHW runs as
    // gemm:jit instead of oneDNN's depthwise kernel (MobileNet v2: ~27 of 37 ms). A band
    // is copied out dense first: the JIT kernels do not read a strided X.
    const memory::desc src_any = p.group == 1 && p.c_group < 4
                                     ? memory::desc(src_dims, f32, data_tag(sp, p.x_channels_last))
                                     : memory::desc(src_dims, f32, Tag::any);
    auto describe = [&](dnnl::algorithm algorithm) {
      // oneDNN counts dilation from 0 (no gap), ONNX from 1.
      dnnl::convolution_forward::desc conv_desc(
          dnnl::prop_kind::forward_inference, algorithm, src_any, weights_any,
          p.bias ? memory::desc({p.maps}, f32, Tag::x) : memory::desc(),
          memory::desc(dst_dims, f32, Tag::any), tail(w.stride, sp), tail(w.dilation, sp, 1),
          tail(w.pad_begin, sp), tail(w.pad_end, sp));
      return dnnl::convolution_forward::primitive_desc(conv_desc, attr, engine, true);
    };
    const auto is_ref = [](const dnnl::convolution_forward::primitive_desc& pd) {
      return std::string_view(pd.impl_info_str()).starts_with("ref");
    };
    dnnl::convolution_forward::primitive_desc conv_pd;
    if (winograd && images >= kMinWinogradImages && winograd_fits(p.w, p.group)) {
      try {
        conv_pd = describe(dnnl::algorithm::convolution_winograd);
        if (conv_pd && is_ref(conv_pd)) conv_pd = {};
      } catch (const dnnl::error&) {
        conv_pd = {};
      }
    }
    if (!conv_pd) conv_pd = describe(dnnl::algorithm::convolution_direct);
    if (!conv_pd || is_ref(conv_pd)) return nullptr;
    s->conv = dnnl::convolution_forward(conv_pd);
    s->implementation = conv_pd.impl_info_str();
    s->conv_src = conv_pd.src_desc();
    s->conv_dst = conv_pd.dst_desc();
    s->weights = conv_pd.weights_desc();
    s->scratchpad_bytes = conv_pd.scratchpad_desc().get_size();
    if (s->conv_src != s->user_src) {
      s->src_reorder = make_reorder(s->user_src, s->conv_src, s->scratchpad_bytes);
      s->conv_src_bytes = s->conv_src.get_size();
    }
    // Scratch between the steps: the convolution's output unless it can go straight to Y,
    // the pool's unless it can.
    memory::desc last = s->conv_dst;
    if (p.pool2x2) {
      const int64_t pooled[3] = {1, w.out[1] / 2, w.out[2] / 2};
      dnnl::pooling_forward::desc pool_desc(
          dnnl::prop_kind::forward_inference, dnnl::algorithm::pooling_max, s->conv_dst,
          memory::desc(with_spatial(p.maps, tail(pooled, 2)), f32, Tag::any), {2, 2}, {2, 2},
          {0, 0}, {0, 0});
      dnnl::pooling_forward::primitive_desc pool_pd(pool_desc, user_scratchpad_attr(), engine,
                                                    true);
      if (!pool_pd) return nullptr;
      s->pool = dnnl::pooling_forward(pool_pd);
      s->scratchpad_bytes = std::max(s->scratchpad_bytes, pool_pd.scratchpad_desc().get_size());
      s->conv_dst_bytes = s->conv_dst.get_size();
      s->pool_dst = last = pool_pd.dst_desc();
    }
    const int64_t y_channels = p.y_channels > 0 ? p.y_channels : p.maps;
    s->user_dst = whole || y_channels != p.maps
                      ? part_desc(last.dims(), tail(whole ? whole->out : w.out, sp), y_channels,
                                  p.y_channels_last)
                      : memory::desc(last.dims(), f32, data_tag(sp, p.y_channels_last));
    if (last != s->user_dst) {
      s->dst_reorder = make_reorder(last, s->user_dst, s->scratchpad_bytes);
      (p.pool2x2 ? s->pool_dst_bytes : s->conv_dst_bytes) = last.get_size();
    }
    return s;
  } catch (const dnnl::error&) {
    return nullptr;
  }
}

void run_conv_slice(const ConvPlan& p, const SlicePrimitives& s, const memory& weights,
                    int64_t n0) {
  use_one_openmp_thread();
  const auto& engine = cpu_engine();
  dnnl::stream& stream = thread_stream();
  // oneDNN scratchpad, then the intermediates. A zero-size scratchpad still gets a byte.
  const std::size_t scratchpad_bytes = std::max<std::size_t>(s.scratchpad_bytes, 1);
  const std::size_t src_off = round_up(scratchpad_bytes);
  const std::size_t conv_off = src_off + round_up(s.conv_src_bytes);
  const std::size_t pool_off = conv_off + round_up(s.conv_dst_bytes);
  std::byte* scratch = thread_scratch(pool_off + s.pool_dst_bytes);
  const memory scratchpad(
      memory::desc({static_cast<int64_t>(scratchpad_bytes)}, memory::data_type::u8, Tag::x), engine,
      scratch);
  const int64_t in_size = p.w.in_size();
  const memory user_src(s.user_src, engine, const_cast<float*>(p.x + n0 * p.channels * in_size));
  const memory user_dst(s.user_dst, engine, p.y + n0 * p.maps * p.y_size);

  memory conv_src = user_src;
  if (s.src_reorder) {
    conv_src = memory(s.conv_src, engine, scratch + src_off);
    s.src_reorder.execute(
        stream,
        {{DNNL_ARG_FROM, user_src}, {DNNL_ARG_TO, conv_src}, {DNNL_ARG_SCRATCHPAD, scratchpad}});
  }
  // The convolution writes straight into Y when nothing follows it.
  const bool conv_to_y = !s.pool && !s.dst_reorder;
  const memory conv_dst = conv_to_y ? user_dst : memory(s.conv_dst, engine, scratch + conv_off);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, conv_src},
                                       {DNNL_ARG_WEIGHTS, weights},
                                       {DNNL_ARG_DST, conv_dst},
                                       {DNNL_ARG_SCRATCHPAD, scratchpad}};
  if (p.bias) {
    args.emplace(DNNL_ARG_BIAS, memory(memory::desc({p.maps}, memory::data_type::f32, Tag::x),
                                       engine, const_cast<float*>(p.bias)));
  }
  s.conv.execute(stream, args);
  memory last = conv_dst;
  if (s.pool) {
    last = s.dst_reorder ? memory(s.pool_dst, engine, scratch + pool_off) : user_dst;
    s.pool.execute(
        stream,
        {{DNNL_ARG_SRC, conv_dst}, {DNNL_ARG_DST, last}, {DNNL_ARG_SCRATCHPAD, scratchpad}});
  }
  if (s.dst_reorder) {
    s.dst_reorder.execute(
        stream,
        {{DNNL_ARG_FROM, last}, {DNNL_ARG_TO, user_dst}, {DNNL_ARG_SCRATCHPAD, scratchpad}});
  }
  stream.wait();
}

}  // namespace mg::cpu
