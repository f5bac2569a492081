#include "conv_dnnl.h"

#include <omp.h>

#include <dnnl.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "../cpu_error.h"

namespace mg::cpu {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;
constexpr auto kF32 = memory::data_type::f32;

dnnl::engine& engine() {
  static dnnl::engine cpu(dnnl::engine::kind::cpu, 0);
  return cpu;
}

// Everything that determines a primitive (not the data): the source, weights and
// destination shapes, the window (strides, dilations, pads), group, bias and Relu.
using Key = std::tuple<std::vector<int64_t>, std::vector<int64_t>, std::vector<int64_t>,
                       std::vector<int64_t>, int64_t, bool, bool>;

std::vector<int64_t> window_key(const Window& w) {
  return {w.stride[1],    w.stride[2],    w.dilation[1], w.dilation[2],
          w.pad_begin[1], w.pad_begin[2], w.pad_end[1],  w.pad_end[2]};
}

// One convolution's primitive and the reorders between the model's plain NCHW / OIHW
// tensors and the blocked layouts the primitive chose.
struct Prepared {
  dnnl::convolution_forward conv;
  memory::desc src_plain, weights_plain, dst_plain, src, weights, dst;
  std::unique_ptr<dnnl::reorder> to_src, to_weights, from_dst;  // null when not needed
};

std::shared_ptr<const Prepared> prepare(const memory::dims& src_dims, const memory::dims& w_dims,
                                        const memory::dims& dst_dims, int64_t group, bool has_bias,
                                        bool relu, const Window& w) {
  Prepared p;
  p.src_plain = memory::desc(src_dims, kF32, Tag::nchw);
  p.dst_plain = memory::desc(dst_dims, kF32, Tag::nchw);
  memory::dims weights_dims = w_dims;
  if (group > 1) {  // [G, M/G, C/G, kH, kW]
    weights_dims = {group, w_dims[0] / group, w_dims[1], w_dims[2], w_dims[3]};
    p.weights_plain = memory::desc(weights_dims, kF32, Tag::goihw);
  } else {
    p.weights_plain = memory::desc(weights_dims, kF32, Tag::oihw);
  }
  const memory::desc src_any(src_dims, kF32, Tag::any), dst_any(dst_dims, kF32, Tag::any),
      weights_any(weights_dims, kF32, Tag::any), bias(memory::dims{dst_dims[1]}, kF32, Tag::a);
  const memory::dims strides{w.stride[1], w.stride[2]};
  const memory::dims dilates{w.dilation[1] - 1, w.dilation[2] - 1};  // oneDNN counts from 0
  const memory::dims pad_l{w.pad_begin[1], w.pad_begin[2]}, pad_r{w.pad_end[1], w.pad_end[2]};
  auto desc = has_bias
                  ? dnnl::convolution_forward::desc(
                        dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                        src_any, weights_any, bias, dst_any, strides, dilates, pad_l, pad_r)
                  : dnnl::convolution_forward::desc(
                        dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                        src_any, weights_any, dst_any, strides, dilates, pad_l, pad_r);
  dnnl::primitive_attr attr;
  if (relu) {
    dnnl::post_ops ops;
    ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    attr.set_post_ops(ops);
  }
  dnnl::convolution_forward::primitive_desc pd(desc, attr, engine());
  p.src = pd.src_desc();
  p.weights = pd.weights_desc();
  p.dst = pd.dst_desc();
  p.conv = dnnl::convolution_forward(pd);
  auto reorder = [](const memory::desc& from, const memory::desc& to) {
    return from == to ? nullptr
                      : std::make_unique<dnnl::reorder>(
                            dnnl::reorder::primitive_desc(engine(), from, engine(), to));
  };
  p.to_src = reorder(p.src_plain, p.src);
  p.to_weights = reorder(p.weights_plain, p.weights);
  p.from_dst = reorder(p.dst, p.dst_plain);
  return std::make_shared<const Prepared>(std::move(p));
}

// Primitives by shape. Bounded: distinct shapes come from the model's layers times the
// batch sizes seen; past kMaxEntries the cache starts over.
std::shared_ptr<const Prepared> cached(const Key& key, const memory::dims& src_dims,
                                       const memory::dims& w_dims, const memory::dims& dst_dims,
                                       int64_t group, bool has_bias, bool relu, const Window& w) {
  constexpr std::size_t kMaxEntries = 512;
  static std::mutex mutex;
  static std::map<Key, std::shared_ptr<const Prepared>> cache;
  {
    std::lock_guard lock(mutex);
    if (auto it = cache.find(key); it != cache.end()) return it->second;
  }
  auto made = prepare(src_dims, w_dims, dst_dims, group, has_bias, relu, w);
  std::lock_guard lock(mutex);
  if (cache.size() >= kMaxEntries) cache.clear();
  cache.emplace(key, made);
  return made;
}

}  // namespace

void conv2d_dnnl(KernelContext& ctx, const Window& w, int64_t group, bool relu, Tensor& y) {
  const Tensor& x = ctx.input(0);
  const Tensor& weight = ctx.input(1);
  const Tensor* bias = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  const int64_t batch = x.dim(0);
  if (batch == 0) return;
  // Images split over the instance's threads; each share runs single-threaded in oneDNN
  // (Debian's oneDNN uses OpenMP, which modelgate keeps at one thread per caller).
  const int64_t shares = std::min<int64_t>(ctx.threads.size(), batch);
  const int64_t per_share = (batch + shares - 1) / shares;
  const memory::dims w_dims(weight.shape.begin(), weight.shape.end());
  try {
    ctx.threads.parallel_for(shares, 1, [&](int64_t s0, int64_t s1) {
      thread_local const bool single_threaded =
          omp_get_max_threads() == 1 || (omp_set_num_threads(1), true);
      (void)single_threaded;
      dnnl::stream stream(engine());
      for (int64_t s = s0; s < s1; ++s) {
        const int64_t n0 = s * per_share, n = std::min(per_share, batch - n0);
        if (n <= 0) continue;
        memory::dims src_dims(x.shape.begin(), x.shape.end());
        memory::dims dst_dims(y.shape.begin(), y.shape.end());
        src_dims[0] = dst_dims[0] = n;
        const Key key{src_dims, w_dims, dst_dims, window_key(w), group, bias != nullptr, relu};
        const auto p = cached(key, src_dims, w_dims, dst_dims, group, bias != nullptr, relu, w);
        const int64_t in_image = x.size() / batch, out_image = y.size() / batch;
        memory src_user(p->src_plain, engine(),
                        const_cast<float*>(x.data<const float>()) + n0 * in_image);
        memory dst_user(p->dst_plain, engine(), y.data<float>() + n0 * out_image);
        memory weights_user(p->weights_plain, engine(),
                            const_cast<float*>(weight.data<const float>()));
        // Weights are reordered on every call (a few microseconds for real layers): they
        // may be a graph input rather than a constant, so a cached copy could go stale.
        memory src = p->to_src ? memory(p->src, engine()) : src_user;
        memory weights = p->to_weights ? memory(p->weights, engine()) : weights_user;
        memory dst = p->from_dst ? memory(p->dst, engine()) : dst_user;
        if (p->to_src) p->to_src->execute(stream, src_user, src);
        if (p->to_weights) p->to_weights->execute(stream, weights_user, weights);
        std::unordered_map<int, memory> args{
            {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, dst}};
        if (bias) {
          args.emplace(DNNL_ARG_BIAS, memory(memory::desc({y.dim(1)}, kF32, Tag::a), engine(),
                                             const_cast<float*>(bias->data<const float>())));
        }
        p->conv.execute(stream, args);
        if (p->from_dst) p->from_dst->execute(stream, dst, dst_user);
        stream.wait();
      }
    });
  } catch (const dnnl::error& e) {
    throw CpuError(CpuError::kInternal, std::string("oneDNN convolution failed: ") + e.what());
  }
}

}  // namespace mg::cpu
