#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "plugins/cpu/tensor.h"

namespace mg::cpu {

// numpy-style broadcast of two shapes; throws CpuError naming both when incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b);

// Walks an output of shape `out` whose N inputs broadcast to it, calling
// fn(out_offset, {in offsets}, inner, {in inner strides}) once per run of the innermost
// dimension. Inner strides are 1 (the input varies along it) or 0 (broadcast).
template <std::size_t N, typename Fn>
void for_each_broadcast(const Shape& out, const std::array<const Shape*, N>& ins, Fn&& fn) {
  const std::size_t rank = out.size();
  std::array<std::vector<int64_t>, N> strides;
  for (std::size_t k = 0; k < N; ++k) {
    const Shape& s = *ins[k];
    strides[k].assign(rank, 0);
    int64_t stride = 1;
    for (std::size_t j = 0; j < s.size(); ++j) {
      std::size_t axis = rank - 1 - j, in_axis = s.size() - 1 - j;
      strides[k][axis] = s[in_axis] == 1 ? 0 : stride;
      stride *= s[in_axis];
    }
  }
  if (num_elements(out) == 0) return;
  const int64_t inner = rank ? out[rank - 1] : 1;
  std::array<int64_t, N> inner_stride{};
  for (std::size_t k = 0; k < N; ++k) inner_stride[k] = rank ? strides[k][rank - 1] : 0;
  const int64_t outer = inner ? num_elements(out) / inner : 0;
  std::vector<int64_t> counter(rank ? rank - 1 : 0, 0);
  std::array<int64_t, N> offset{};
  for (int64_t o = 0; o < outer; ++o) {
    fn(o * inner, offset, inner, inner_stride);
    // Advance the counter over all dimensions but the last, carrying offsets along.
    for (std::size_t axis = counter.size(); axis-- > 0;) {
      ++counter[axis];
      for (std::size_t k = 0; k < N; ++k) offset[k] += strides[k][axis];
      if (counter[axis] < out[axis]) break;
      for (std::size_t k = 0; k < N; ++k) offset[k] -= strides[k][axis] * out[axis];
      counter[axis] = 0;
    }
  }
}

}  // namespace mg::cpu
