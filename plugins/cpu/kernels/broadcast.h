#pragma once

#include <algorithm>
#include <array>
#include <boost/container/small_vector.hpp>
#include <cstdint>
#include <vector>

#include "plugins/cpu/tensor.h"
#include "plugins/cpu/thread_pool.h"

namespace mg::cpu {

// numpy-style broadcast of two shapes; throws CpuError naming both when incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b);
// Whether `from` broadcasts to `to` one way (numpy's rule, `to` unchanged); allocates nothing.
bool broadcasts_to(const Shape& from, const Shape& to);

namespace broadcast_detail {

// An output walk: the output's dimensions with size-1 ones dropped and neighbours every
// input steps through alike merged ([N, C, H, W] against [N, C, 1, 1] is [N·C, H·W]
// against [N·C, 1]), each input's stride per dimension (0 where it is broadcast).
// Dimensions are held inline up to rank 8: element-wise nodes plan a walk on every run,
// and heap vectors made that ~10 allocations per small model's request.
using Dims = boost::container::small_vector<int64_t, 8>;
template <std::size_t N>
struct Walk {
  Dims dims;
  std::array<Dims, N> strides;
  int64_t inner = 1, outer = 0;  // the last dimension's size; how many runs of it
};

template <std::size_t N>
Walk<N> plan(const Shape& out, const std::array<const Shape*, N>& ins) {
  const std::size_t rank = out.size();
  std::array<Dims, N> full;
  for (std::size_t k = 0; k < N; ++k) {
    const Shape& s = *ins[k];
    full[k].assign(rank, 0);
    int64_t stride = 1;
    for (std::size_t j = 0; j < s.size(); ++j) {
      std::size_t axis = rank - 1 - j, in_axis = s.size() - 1 - j;
      full[k][axis] = s[in_axis] == 1 ? 0 : stride;
      stride *= s[in_axis];
    }
  }
  Walk<N> w;
  for (std::size_t axis = 0; axis < rank; ++axis) {
    if (out[axis] == 1) continue;
    bool merges = !w.dims.empty();
    for (std::size_t k = 0; k < N && merges; ++k)
      merges = w.strides[k].back() == full[k][axis] * out[axis];
    if (merges) {
      w.dims.back() *= out[axis];
      for (std::size_t k = 0; k < N; ++k) w.strides[k].back() = full[k][axis];
    } else {
      w.dims.push_back(out[axis]);
      for (std::size_t k = 0; k < N; ++k) w.strides[k].push_back(full[k][axis]);
    }
  }
  if (w.dims.empty()) {  // one element (or a shape of ones)
    w.dims.push_back(1);
    for (std::size_t k = 0; k < N; ++k) w.strides[k].push_back(0);
  }
  w.inner = w.dims.back();
  w.outer = num_elements(out) == 0 ? 0 : num_elements(out) / w.inner;
  return w;
}

// Runs [o0, o1) of the walk's innermost runs.
template <std::size_t N, typename Fn>
void run(const Walk<N>& w, int64_t o0, int64_t o1, Fn& fn) {
  const std::size_t outer_rank = w.dims.size() - 1;
  std::array<int64_t, N> inner_stride{}, offset{};
  for (std::size_t k = 0; k < N; ++k) inner_stride[k] = w.strides[k].back();
  // The counter over all dimensions but the last, started at run o0.
  Dims counter(outer_rank, 0);
  for (std::size_t axis = outer_rank, rest = static_cast<std::size_t>(o0); axis-- > 0;) {
    const auto size = static_cast<std::size_t>(w.dims[axis]);
    counter[axis] = static_cast<int64_t>(rest % size);
    rest /= size;
    for (std::size_t k = 0; k < N; ++k) offset[k] += counter[axis] * w.strides[k][axis];
  }
  for (int64_t o = o0; o < o1; ++o) {
    fn(o * w.inner, offset, w.inner, inner_stride);
    for (std::size_t axis = outer_rank; axis-- > 0;) {
      ++counter[axis];
      for (std::size_t k = 0; k < N; ++k) offset[k] += w.strides[k][axis];
      if (counter[axis] < w.dims[axis]) break;
      for (std::size_t k = 0; k < N; ++k) offset[k] -= w.strides[k][axis] * w.dims[axis];
      counter[axis] = 0;
    }
  }
}

}  // namespace broadcast_detail

// Walks an output of shape `out` whose N inputs broadcast to it, calling
// fn(out_offset, {in offsets}, inner, {in inner strides}) once per run of the innermost
// dimension (neighbouring dimensions the inputs step through alike count as one). Inner
// strides are 1 (the input varies along it) or 0 (broadcast).
template <std::size_t N, typename Fn>
void for_each_broadcast(const Shape& out, const std::array<const Shape*, N>& ins, Fn&& fn) {
  const auto w = broadcast_detail::plan<N>(out, ins);
  broadcast_detail::run<N>(w, 0, w.outer, fn);
}

// The same, the runs split across `threads` in pieces of about `grain` output elements;
// fn is called concurrently on disjoint runs.
template <std::size_t N, typename Fn>
void for_each_broadcast(ThreadPool& threads, int64_t grain, const Shape& out,
                        const std::array<const Shape*, N>& ins, Fn&& fn) {
  const auto w = broadcast_detail::plan<N>(out, ins);
  threads.parallel_for(w.outer, std::max<int64_t>(1, grain / std::max<int64_t>(w.inner, 1)),
                       [&](int64_t o0, int64_t o1) { broadcast_detail::run<N>(w, o0, o1, fn); });
}

}  // namespace mg::cpu
