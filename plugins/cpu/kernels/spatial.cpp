#include "plugins/cpu/kernels/spatial.h"

#include "plugins/cpu/cpu_error.h"
#include "plugins/cpu/tensor.h"

namespace mg::cpu {

Window make_window(const Node& node, const std::vector<int64_t>& input_shape,
                   const std::vector<int64_t>& kernel_in, bool allow_ceil_mode) {
  auto fail = [&](const std::string& why) {
    throw CpuError(CpuError::kInvalid, node.where() + ": " + why);
  };
  const int spatial = static_cast<int>(input_shape.size()) - 2;
  if (spatial < 1 || spatial > 3) {
    fail("expects an input of rank 3 to 5, got " + shape_text(input_shape));
  }
  std::vector<int64_t> kernel = kernel_in.empty() ? node.attr_ints("kernel_shape") : kernel_in;
  std::vector<int64_t> strides = node.attr_ints("strides");
  std::vector<int64_t> dilations = node.attr_ints("dilations");
  std::vector<int64_t> pads = node.attr_ints("pads");
  const std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  const bool ceil_mode = allow_ceil_mode && node.attr_int("ceil_mode", 0) != 0;
  auto sized = [&](const std::vector<int64_t>& v, std::size_t n) {
    return v.empty() || v.size() == n;
  };
  if (static_cast<int>(kernel.size()) != spatial || !sized(strides, spatial) ||
      !sized(dilations, spatial) || !sized(pads, 2 * static_cast<std::size_t>(spatial))) {
    fail("kernel_shape/strides/dilations/pads do not match " + std::to_string(spatial) +
         " spatial dimensions");
  }
  Window w;
  w.spatial = spatial;
  const int shift = 3 - spatial;  // real dimension d lives at index d + shift
  for (int d = 0; d < spatial; ++d) {
    const int i = d + shift;
    w.in[i] = input_shape[static_cast<std::size_t>(d + 2)];
    w.kernel[i] = kernel[d];
    w.stride[i] = strides.empty() ? 1 : strides[d];
    w.dilation[i] = dilations.empty() ? 1 : dilations[d];
    if (w.kernel[i] < 1 || w.stride[i] < 1 || w.dilation[i] < 1) {
      fail("kernel, stride and dilation must be positive");
    }
    const int64_t extent = (w.kernel[i] - 1) * w.dilation[i] + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      const int64_t out = (w.in[i] + w.stride[i] - 1) / w.stride[i];
      const int64_t total = std::max<int64_t>(0, (out - 1) * w.stride[i] + extent - w.in[i]);
      w.pad_begin[i] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      w.pad_end[i] = total - w.pad_begin[i];
    } else if (auto_pad == "VALID") {
      w.pad_begin[i] = w.pad_end[i] = 0;
    } else if (auto_pad == "NOTSET") {
      w.pad_begin[i] = pads.empty() ? 0 : pads[d];
      w.pad_end[i] = pads.empty() ? 0 : pads[d + spatial];
    } else {
      fail("unknown auto_pad '" + auto_pad + "'");
    }
    if (w.pad_begin[i] < 0 || w.pad_end[i] < 0) fail("negative pads");
    const int64_t span = w.in[i] + w.pad_begin[i] + w.pad_end[i] - extent;
    if (span < 0) fail("the window is larger than the padded input");
    if (ceil_mode) {
      w.out[i] = (span + w.stride[i] - 1) / w.stride[i] + 1;
      // The last window must start inside the input or its leading padding.
      if ((w.out[i] - 1) * w.stride[i] >= w.in[i] + w.pad_begin[i]) --w.out[i];
    } else {
      w.out[i] = span / w.stride[i] + 1;
    }
  }
  return w;
}

}  // namespace mg::cpu
