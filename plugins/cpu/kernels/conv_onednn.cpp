#include "plugins/cpu/kernels/conv_onednn.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "plugins/cpu/cpu_error.h"
#include "plugins/cpu/kernels/conv_onednn_slice.h"
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

// W in the layout `layout`, reordered once into `packed` (the node's when W is a
// constant, else this call's) from p.weights or, when the graph dropped W (null), from
// the first layout packed.
memory weights_in(const ConvPlan& p, const memory::desc& layout, PackedWeights& packed) {
  for (const auto& [desc, mem] : packed) {
    if (desc == layout) return mem;
  }
  const auto& engine = cpu_engine();
  if (!p.weights && packed.empty()) throw CpuError(CpuError::kInternal, "Conv weights are gone");
  memory user = p.weights ? memory(conv_user_weights_desc(p), engine, const_cast<float*>(p.weights))
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
  memory user(conv_user_weights_desc(part), engine, const_cast<float*>(part.weights));
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
      it = state->slices.emplace(key, make_conv_slice(band, images, state->winograd, whole)).first;
    }
    r.primitives = it->second;
  } else {
    r.primitives = make_conv_slice(band, images, p.winograd, whole);
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
        auto primitives = make_conv_slice(part, 1, false);
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
  auto slice = make_conv_slice(plan, slice_images(plan), plan.winograd);
  return slice ? slice->implementation : "";
}

int onednn_conv_bands(const ConvPlan& plan, int threads) {
  if (!bands_fit(plan, threads)) return 1;
  for (int i = 0; i < threads; ++i) {
    if (!make_conv_slice(band_plan(plan, {i, threads}), 1, plan.winograd, &plan.w)) return 1;
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
  const memory::desc plain = conv_user_weights_desc(plan);
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
          run_conv_slice(channel_part_plan(image_plan, index, part_count), *part.primitives,
                         part.weights, 0);
        } else if (!bands.empty()) {
          // Band i % count of image i / count.
          const int64_t image = i / band_count;
          const int index = static_cast<int>(i % band_count);
          ConvPlan image_plan = p;
          image_plan.x += image * p.channels * p.w.in_size();
          image_plan.y += image * p.maps * p.y_size;
          const Ready& band = bands[static_cast<std::size_t>(index)];
          run_conv_slice(band_plan(image_plan, {index, band_count}), *band.primitives, band.weights,
                         0);
        } else if (i < slices) {
          run_conv_slice(p, *whole.primitives, whole.weights, i * slice);
        } else {
          run_conv_slice(p, *single.primitives, single.weights, slices * slice + (i - slices));
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
