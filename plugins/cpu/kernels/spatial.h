#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "plugins/cpu/graph.h"

namespace mg::cpu {

// The window geometry shared by Conv and the pools, for up to 3 spatial dimensions.
// Inputs of fewer spatial dimensions are padded at the front with size-1 dimensions,
// so kernels loop over exactly 3.
struct Window {
  int spatial = 0;            // the input's real number of spatial dimensions
  int64_t in[3] = {1, 1, 1};  // input size per dimension
  int64_t kernel[3] = {1, 1, 1};
  int64_t stride[3] = {1, 1, 1};
  int64_t dilation[3] = {1, 1, 1};
  int64_t pad_begin[3] = {0, 0, 0};
  int64_t pad_end[3] = {0, 0, 0};
  int64_t out[3] = {1, 1, 1};

  int64_t in_size() const { return in[0] * in[1] * in[2]; }
  int64_t out_size() const { return out[0] * out[1] * out[2]; }
  int64_t kernel_size() const { return kernel[0] * kernel[1] * kernel[2]; }
};

// Reads kernel_shape (or `kernel` when given), strides, dilations, pads, auto_pad and
// ceil_mode from the node for an input of shape [N, C, spatial...]. Throws on bad values.
Window make_window(const Node& node, const std::vector<int64_t>& input_shape,
                   const std::vector<int64_t>& kernel, bool allow_ceil_mode);

}  // namespace mg::cpu
