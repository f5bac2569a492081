#include "plugins/cpu/kernels/conv_split.h"

#include <algorithm>

namespace mg::cpu {

ConvPlan band_plan(const ConvPlan& p, Bands b) {
  if (b.count == 1) return p;
  const int d = 3 - p.w.spatial;
  const Window& w = p.w;
  const int64_t r0 = w.out[d] * b.index / b.count, r1 = w.out[d] * (b.index + 1) / b.count;
  const int64_t span = (w.kernel[d] - 1) * w.dilation[d] + 1;
  const int64_t first = r0 * w.stride[d] - w.pad_begin[d];  // the band's first input row
  const int64_t last = (r1 - 1) * w.stride[d] - w.pad_begin[d] + span;  // one past its last
  ConvPlan band = p;
  band.w.out[d] = r1 - r0;
  band.w.pad_begin[d] = std::max<int64_t>(0, -first);
  band.w.pad_end[d] = std::max<int64_t>(0, last - w.in[d]);
  band.w.in[d] = std::min(last, w.in[d]) - std::max<int64_t>(first, 0);
  // Elements from one row to the next along d, in x and in y.
  int64_t x_row = p.x_channels_last ? p.channels : 1, y_row = p.y_channels_last ? p.maps : 1;
  for (int i = d + 1; i < 3; ++i) {
    x_row *= w.in[i];
    y_row *= w.out[i];
  }
  band.x = p.x + std::max<int64_t>(first, 0) * x_row;
  band.y = p.y + r0 * y_row;
  complete_plan(band);
  return band;
}

bool bands_fit(const ConvPlan& p, int count) {
  if (count < 2 || p.pool2x2 || p.w.out[3 - p.w.spatial] < count) return false;
  for (int i = 0; i < count; ++i) {
    const ConvPlan band = band_plan(p, {i, count});
    if (band.w.in[3 - p.w.spatial] < 1) return false;
  }
  return true;
}

bool channel_split_fits(const ConvPlan& p, int count) {
  return count > 1 && p.group == 1 && !p.pool2x2 && p.y_channels == 0 &&
         p.maps % (32 * count) == 0 &&
         p.maps * p.c_group * p.w.kernel_size() > p.channels * p.w.in_size();
}

ConvPlan channel_part_plan(const ConvPlan& p, int index, int count) {
  ConvPlan part = p;
  part.maps = p.maps / count;
  part.y_channels = p.maps;
  const int64_t first = part.maps * index;
  if (p.weights) part.weights = p.weights + first * p.c_group * p.w.kernel_size();
  if (p.bias) part.bias = p.bias + first;
  if (p.y) part.y = p.y + (p.y_channels_last ? first : first * p.y_size);
  complete_plan(part);
  return part;
}

}  // namespace mg::cpu
