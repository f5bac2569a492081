#include "plugins/cpu/kernels/conv_onednn.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "plugins/cpu/cpu_error.h"
#include "plugins/cpu/kernels/conv_split.h"
#include "plugins/cpu/kernels/onednn.h"

namespace mg::cpu {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;

// A slice's intermediates (the input in the convolution's layout, its output, the pooled
// output) are kept within about this many bytes, so the pool and the reorder back to NCHW
// read them from a core's L2 cache rather than memory.
constexpr int64_t kSliceBytes = int64_t{1} << 19;
// Slices are at most this many images (past it a bigger slice gains nothing).
constexpr int64_t kMaxSliceImages = 16;
// Models with dynamic spatial sizes would add primitives without end; past this many
// shapes a node starts over.
constexpr std::size_t kMaxShapes = 64;

// Everything one slice shape runs: [reorder in] → conv (+Relu) → [pool] → [reorder out].
struct SlicePrimitives {
  memory::desc user_src, conv_src, conv_dst, pool_dst, user_dst, weights;
  dnnl::reorder src_reorder;  // empty when the convolution reads NCHW itself
  dnnl::convolution_forward conv;
  dnnl::pooling_forward pool;  // empty unless a pool is fused
  dnnl::reorder dst_reorder;   // empty when the last result is NCHW already
  std::string implementation;  // oneDNN's name for the convolution's implementation
  std::size_t scratchpad_bytes = 0;
  std::size_t conv_src_bytes = 0, conv_dst_bytes = 0, pool_dst_bytes = 0;
};

// W in the layouts primitives asked for (a memory is a shared handle: copies are cheap).
using PackedWeights = std::vector<std::pair<memory::desc, memory>>;

struct ConvState final : KernelState {
  bool constant_weights = false;
  bool y_channels_last = false;  // Y is held channel-last (Value::channels_last)
  bool winograd = false;         // KernelOptions::conv_winograd
  std::mutex mutex;              // guards the containers; primitives themselves run concurrently
  // Shape (slice_key) → primitives; null when oneDNN cannot do that shape.
  std::map<std::array<int64_t, 13>, std::shared_ptr<const SlicePrimitives>> slices;
  PackedWeights packed_weights;  // when W is a constant
  // W packed at load for every primitive made then: the graph drops its own copy of W
  // (prepare_kernels), and later layouts are reordered from the first packed one.
  bool weights_packed_only = false;
  // One image split by output channels across the threads (made at load, see
  // channel_split_fits): each part's primitives and its rows of W, and the input shape
  // they were made for.
  struct ChannelPart {
    std::shared_ptr<const SlicePrimitives> primitives;
    memory weights;
  };
  std::vector<ChannelPart> channel_parts;
  std::array<int64_t, 4> channel_parts_input{};

  bool holds_constant_input(std::size_t input) const override {
    return input == 1 && weights_packed_only;
  }
};

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

memory::desc user_weights_desc(const ConvPlan& p) {
  const int sp = p.w.spatial;
  memory::dims dims;
  if (p.group > 1) dims.push_back(p.group);
  dims.push_back(p.m_group);
  dims.push_back(p.c_group);
  for (int64_t k : tail(p.w.kernel, sp)) dims.push_back(k);
  return memory::desc(dims, memory::data_type::f32, plain_weights_tag(sp, p.group > 1));
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

// 3×3, stride 1, no dilation, no groups, 2-D: the convolutions Winograd's F(4×4, 3×3)
// computes with ~4× fewer multiplications. oneDNN judges the rest (it has Winograd kernels
// for AVX-512 only) by offering no implementation; then the direct one runs.
bool winograd_fits(const ConvPlan& p) {
  const Window& w = p.w;
  return w.spatial == 2 && p.group == 1 && w.kernel[1] == 3 && w.kernel[2] == 3 &&
         w.stride[1] == 1 && w.stride[2] == 1 && w.dilation[1] == 1 && w.dilation[2] == 1;
}

// Null when oneDNN has no implementation for this convolution (or refuses its geometry,
// or has only its reference one, which is ~30× slower than im2col): the caller then uses
// im2col. `whole` is the window of the plan a band was cut from (null: p is whole).
std::shared_ptr<const SlicePrimitives> make_slice(const ConvPlan& p, int64_t images, bool winograd,
                                                  const Window* whole = nullptr) {
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
    memory::desc weights_any = user_weights_desc(p);
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
    if (winograd && images >= kMinWinogradImages && winograd_fits(p)) {
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

// The calling thread's scratch, 64-byte aligned, grown as needed and kept for reuse.
std::byte* thread_scratch(std::size_t bytes) {
  thread_local std::vector<std::byte> buffer;
  constexpr std::size_t kAlign = 64;
  if (buffer.size() < bytes + kAlign) buffer.resize(bytes + kAlign);
  void* p = buffer.data();
  std::size_t space = buffer.size();
  return static_cast<std::byte*>(std::align(kAlign, bytes, p, space));
}

std::size_t round_up(std::size_t bytes) { return (bytes + 63) / 64 * 64; }

// Images [n0, n0 + images) of the plan through one slice's primitives, on this thread.
void run_slice(const ConvPlan& p, const SlicePrimitives& s, const memory& weights, int64_t n0) {
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

// W in the layout `layout`, reordered once into `packed` (the node's when W is a
// constant, else this call's) from p.weights or, when the graph dropped W (null), from
// the first layout packed.
memory weights_in(const ConvPlan& p, const memory::desc& layout, PackedWeights& packed) {
  for (const auto& [desc, mem] : packed) {
    if (desc == layout) return mem;
  }
  const auto& engine = cpu_engine();
  if (!p.weights && packed.empty()) throw CpuError(CpuError::kInternal, "Conv weights are gone");
  memory user = p.weights ? memory(user_weights_desc(p), engine, const_cast<float*>(p.weights))
                          : packed.front().second;
  memory mem(layout, engine);
  use_one_openmp_thread();
  dnnl::reorder(user, mem).execute(thread_stream(), user, mem);
  thread_stream().wait();
  packed.emplace_back(layout, mem);
  return mem;
}

// A channel part's rows of W in the layout its primitive asked for: a view into the whole
// W packed at `offset` when the bytes there are those rows in that layout (oneDNN's
// layouts keep output-channel blocks outermost), so W is not held twice; else their own.
memory part_weights(const ConvPlan& part, const memory::desc& layout, std::size_t offset,
                    const PackedWeights& packed) {
  const auto& engine = cpu_engine();
  memory own(layout, engine);
  memory user(user_weights_desc(part), engine, const_cast<float*>(part.weights));
  use_one_openmp_thread();
  dnnl::reorder(user, own).execute(thread_stream(), user, own);
  thread_stream().wait();
  const std::size_t bytes = layout.get_size();
  for (const auto& [desc, mem] : packed) {
    auto* whole = static_cast<std::byte*>(mem.get_data_handle());
    if (offset + bytes <= desc.get_size() &&
        std::memcmp(whole + offset, own.get_data_handle(), bytes) == 0) {
      return memory(layout, engine, whole + offset);
    }
  }
  return own;
}

// Images per slice: as many as keep a slice's intermediates within kSliceBytes.
int64_t slice_images(const ConvPlan& p) {
  const int64_t per_image =
      4 * (p.channels * p.w.in_size() + p.maps * p.out_size + (p.pool2x2 ? p.maps * p.y_size : 0));
  return std::clamp<int64_t>(kSliceBytes / std::max<int64_t>(per_image, 1), 1, kMaxSliceImages);
}

// A slice size's primitives and W in their layout, from the node's state (made there on
// first use) or, without a state, made for this call. Null primitives: oneDNN cannot.
struct Ready {
  std::shared_ptr<const SlicePrimitives> primitives;
  memory weights;
};

Ready ready(const ConvPlan& p, int64_t images, Bands bands, ConvState* state,
            PackedWeights& call_weights) {
  Ready r;
  const ConvPlan band = band_plan(p, bands);
  const Window* whole = bands.count > 1 ? &p.w : nullptr;
  if (state) {
    // Everything of the shapes a primitive is made for: X's and, since W need not be a
    // constant, W's too (the attributes are the node's own and never change), and which
    // band of the image it computes.
    const std::array<int64_t, 13> key{images,
                                      p.channels,
                                      p.maps,
                                      p.w.in[0],
                                      p.w.in[1],
                                      p.w.in[2],
                                      p.w.kernel[0],
                                      p.w.kernel[1],
                                      p.w.kernel[2],
                                      p.x_channels_last,
                                      p.y_channels_last,
                                      bands.index,
                                      bands.count};
    auto it = state->slices.find(key);
    if (it == state->slices.end()) {
      if (state->slices.size() >= kMaxShapes) state->slices.clear();
      it = state->slices.emplace(key, make_slice(band, images, state->winograd, whole)).first;
    }
    r.primitives = it->second;
  } else {
    r.primitives = make_slice(band, images, p.winograd, whole);
  }
  if (!r.primitives) return r;
  try {
    r.weights = weights_in(p, r.primitives->weights,
                           state && state->constant_weights ? state->packed_weights : call_weights);
  } catch (const dnnl::error& e) {
    throw CpuError(CpuError::kInternal, std::string("oneDNN weights reorder: ") + e.what());
  }
  return r;
}

}  // namespace

std::shared_ptr<KernelState> prepare_onednn_conv(const Node& node, const Graph& graph,
                                                 const KernelOptions& options) {
  auto state = std::make_shared<ConvState>();
  state->winograd = options.conv_winograd;
  auto value = [&](std::size_t i) -> const Value* {
    return i < node.inputs.size() && node.inputs[i] >= 0
               ? &graph.values[static_cast<std::size_t>(node.inputs[i])]
               : nullptr;
  };
  const Value* x = value(0);
  const Value* w = value(1);
  state->constant_weights = w && w->constant.has_value();
  state->y_channels_last = !node.outputs.empty() && node.outputs[0] >= 0 &&
                           graph.values[static_cast<std::size_t>(node.outputs[0])].channels_last;
  // When X's channels and spatial sizes are known, the primitives that will run (and
  // constant W in their layout) are made now: JIT-compiling them takes milliseconds that
  // would otherwise land on the first requests. Those for whole slices of images only
  // when batches that large can come (X's fixed batch size, or the host's max_batch):
  // their code costs up to ~20 % of a small model's weights.
  const auto known = [](const Value* v, std::size_t from) {
    return v && v->shape_known && v->shape.size() > from &&
           std::all_of(v->shape.begin() + static_cast<std::ptrdiff_t>(from), v->shape.end(),
                       [](int64_t d) { return d >= 0; });
  };
  if (!state->constant_weights || !known(x, 1) || !known(w, 0)) return state;
  try {
    Shape one_image = x->shape;
    one_image[0] = 1;
    ConvPlan p = plan_conv(node, one_image, w->shape);
    p.weights = w->constant->data<const float>();
    p.x_channels_last = x->channels_last;
    p.y_channels_last = state->y_channels_last;
    const Value* b = value(2);
    static const float kNoBias = 0.f;  // only its presence shapes the primitives
    p.bias = b ? (b->constant ? b->constant->data<const float>() : &kNoBias) : nullptr;
    PackedWeights unused;
    bool all_made = ready(p, 1, {}, state.get(), unused).primitives != nullptr;
    const int64_t largest_batch = x->shape[0] > 0 ? x->shape[0] : options.max_batch;
    if (largest_batch >= slice_images(p) * options.threads) {
      all_made &= ready(p, slice_images(p), {}, state.get(), unused).primitives != nullptr;
    }
    // A batch of one on several threads: split by output channels where that fits (and B,
    // whose rows each part reads, is known), else into bands of rows.
    if (all_made && channel_split_fits(p, options.threads) && (!b || b->constant)) {
      for (int i = 0; i < options.threads; ++i) {
        const ConvPlan part = channel_part_plan(p, i, options.threads);
        auto primitives = make_slice(part, 1, false);
        if (!primitives) {
          state->channel_parts.clear();
          break;
        }
        const memory weights = part_weights(
            part, primitives->weights, static_cast<std::size_t>(i) * primitives->weights.get_size(),
            state->packed_weights);
        state->channel_parts.push_back({std::move(primitives), weights});
      }
      state->channel_parts_input = {p.channels, p.w.in[0], p.w.in[1], p.w.in[2]};
    }
    if (state->channel_parts.empty() && bands_fit(p, options.threads)) {
      for (int i = 0; i < options.threads; ++i)
        all_made &= ready(p, 1, {i, options.threads}, state.get(), unused).primitives != nullptr;
    }
    // Winograd's transformed weights cannot be reordered into other layouts.
    state->weights_packed_only = all_made && !state->packed_weights.empty() && !state->winograd;
  } catch (const CpuError&) {
    // A geometry that does not work: the first run reports it.
  }
  return state;
}

std::string onednn_conv_implementation(const ConvPlan& plan) {
  auto slice = make_slice(plan, slice_images(plan), plan.winograd);
  return slice ? slice->implementation : "";
}

int onednn_conv_bands(const ConvPlan& plan, int threads) {
  if (!bands_fit(plan, threads)) return 1;
  for (int i = 0; i < threads; ++i) {
    if (!make_slice(band_plan(plan, {i, threads}), 1, plan.winograd, &plan.w)) return 1;
  }
  return threads;
}

ChannelSplit onednn_conv_channel_split(const KernelState* base_state) {
  const auto* state = dynamic_cast<const ConvState*>(base_state);
  ChannelSplit split;
  if (!state || state->channel_parts.empty()) return split;
  split.parts = static_cast<int>(state->channel_parts.size());
  split.weights_shared = true;
  for (const auto& part : state->channel_parts) {
    const auto* data = static_cast<const std::byte*>(part.weights.get_data_handle());
    bool inside = false;
    for (const auto& [desc, mem] : state->packed_weights) {
      const auto* whole = static_cast<const std::byte*>(mem.get_data_handle());
      inside |= data >= whole && data < whole + desc.get_size();
    }
    split.weights_shared &= inside;
  }
  return split;
}

const float* unpacked_conv_weights(const ConvPlan& plan, KernelState* base_state,
                                   std::vector<float>& storage) {
  if (plan.weights) return plan.weights;
  auto* state = dynamic_cast<ConvState*>(base_state);
  if (!state) throw CpuError(CpuError::kInternal, "Conv weights are gone");
  std::lock_guard lock(state->mutex);
  if (state->packed_weights.empty()) throw CpuError(CpuError::kInternal, "Conv weights are gone");
  const memory::desc plain = user_weights_desc(plan);
  storage.resize(plain.get_size() / sizeof(float));
  memory to(plain, cpu_engine(), storage.data());
  memory from = state->packed_weights.front().second;
  use_one_openmp_thread();
  dnnl::reorder(from, to).execute(thread_stream(), from, to);
  thread_stream().wait();
  return storage.data();
}

bool conv_output_channels_last(const KernelState* state) {
  const auto* conv = dynamic_cast<const ConvState*>(state);
  return conv && conv->y_channels_last;
}

bool run_onednn_conv(const ConvPlan& p, KernelState* base_state, ThreadPool& threads) {
  auto* state = dynamic_cast<ConvState*>(base_state);
  std::unique_lock<std::mutex> lock;
  if (state) lock = std::unique_lock(state->mutex);
  PackedWeights call_weights;
  // Fewer images than threads: each image is split by output channels (when made at
  // load for this input shape) or cut into a band of rows per thread (when oneDNN takes
  // every band; else whole images).
  const std::vector<ConvState::ChannelPart>* parts = nullptr;
  if (state && p.batch < threads.size() &&
      state->channel_parts.size() == static_cast<std::size_t>(threads.size()) &&
      state->channel_parts_input ==
          std::array<int64_t, 4>{p.channels, p.w.in[0], p.w.in[1], p.w.in[2]}) {
    parts = &state->channel_parts;
  }
  std::vector<Ready> bands;
  if (!parts && p.batch < threads.size() && bands_fit(p, threads.size())) {
    for (int i = 0; i < threads.size(); ++i) {
      bands.push_back(ready(p, 1, {i, threads.size()}, state, call_weights));
      if (!bands.back().primitives) {
        bands.clear();
        break;
      }
    }
  }
  const int band_count = static_cast<int>(bands.size());
  // Else whole slices while there are enough for every thread, the rest image by image:
  // a node needs primitives for two batch sizes only, whatever batches arrive (one image
  // runs at ~90 % of a slice's speed per image).
  const int64_t slice = slice_images(p);
  const bool whole_images = bands.empty() && !parts;
  const int64_t slices = whole_images && p.batch >= slice * threads.size() ? p.batch / slice : 0;
  const int64_t singles = whole_images ? p.batch - slices * slice : 0;
  Ready whole, single;
  if (slices > 0) whole = ready(p, slice, {}, state, call_weights);
  if (singles > 0) single = ready(p, 1, {}, state, call_weights);
  if (lock) lock.unlock();
  if ((slices > 0 && !whole.primitives) || (singles > 0 && !single.primitives)) return false;

  // Pieces of equal work are cut into one contiguous run per thread: each thread computes
  // the images (or the rows) that the element-wise kernels after it take on that thread,
  // so they read what their own core wrote (reading another core's writes cost ~3.5× on
  // this machine's two cores). Whole slices beside single images are unequal: then
  // threads take the next piece until none is left (slices first), so a thread that drew
  // a whole slice is not waited for while the other runs out of work.
  const int part_count = parts ? static_cast<int>(parts->size()) : 0;
  const int64_t pieces = parts           ? p.batch * part_count
                         : bands.empty() ? slices + singles
                                         : p.batch * band_count;
  std::atomic<int64_t> next{0};
  std::mutex failure_mutex;
  std::string failure;  // worker threads must not throw: the first failure is reported here
  const bool equal_pieces = slices == 0 || singles == 0;
  threads.parallel_for(equal_pieces ? pieces : threads.size(), 1, [&](int64_t begin, int64_t end) {
    try {
      int64_t i = equal_pieces ? begin : next++;
      const int64_t stop = equal_pieces ? end : pieces;
      for (; i < stop; i = equal_pieces ? i + 1 : next++) {
        if (parts) {
          // Channel part i % count of image i / count.
          const int64_t image = i / part_count;
          const int index = static_cast<int>(i % part_count);
          ConvPlan image_plan = p;
          image_plan.x += image * p.channels * p.w.in_size();
          image_plan.y += image * p.maps * p.y_size;
          const auto& part = (*parts)[static_cast<std::size_t>(index)];
          run_slice(channel_part_plan(image_plan, index, part_count), *part.primitives,
                    part.weights, 0);
        } else if (!bands.empty()) {
          // Band i % count of image i / count.
          const int64_t image = i / band_count;
          const int index = static_cast<int>(i % band_count);
          ConvPlan image_plan = p;
          image_plan.x += image * p.channels * p.w.in_size();
          image_plan.y += image * p.maps * p.y_size;
          const Ready& band = bands[static_cast<std::size_t>(index)];
          run_slice(band_plan(image_plan, {index, band_count}), *band.primitives, band.weights, 0);
        } else if (i < slices) {
          run_slice(p, *whole.primitives, whole.weights, i * slice);
        } else {
          run_slice(p, *single.primitives, single.weights, slices * slice + (i - slices));
        }
      }
    } catch (const dnnl::error& e) {
      std::lock_guard guard(failure_mutex);
      if (failure.empty()) failure = e.what();
    }
  });
  if (!failure.empty()) throw CpuError(CpuError::kInternal, "oneDNN convolution: " + failure);
  return true;
}

}  // namespace mg::cpu
