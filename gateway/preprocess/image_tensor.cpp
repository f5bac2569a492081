#include "gateway/preprocess/image_tensor.h"

#include <algorithm>
#include <cmath>

namespace mg::gateway {
namespace {

// Where output index i of n samples from an input of size `in`: the two neighbours and the
// weight of the second (half-pixel centres, clamped at the edges).
struct Tap {
  uint32_t lo, hi;
  float weight;
};

std::vector<Tap> taps(uint32_t in, uint32_t out) {
  std::vector<Tap> list(out);
  const double ratio = static_cast<double>(in) / out;
  for (uint32_t i = 0; i < out; ++i) {
    const double x = std::clamp((i + 0.5) * ratio - 0.5, 0.0, static_cast<double>(in - 1));
    const auto lo = static_cast<uint32_t>(std::floor(x));
    list[i] = Tap{lo, std::min(lo + 1, in - 1), static_cast<float>(x - lo)};
  }
  return list;
}

}  // namespace

void image_to_tensor(const DecodedImage& image, const ImageSpec& spec, float* out) {
  const uint32_t c_count = spec.channels, h_out = spec.height, w_out = spec.width;
  std::vector<float> mean(c_count), std(c_count);
  for (uint32_t c = 0; c < c_count; ++c) {
    mean[c] = spec.mean.size() == 1 ? spec.mean[0] : spec.mean[c];
    std[c] = spec.std.size() == 1 ? spec.std[0] : spec.std[c];
  }
  // Divided, not multiplied by scale: a scale of 1/255 then gives pixel / 255 exactly as
  // the training pipeline computed it (torchvision's ToTensor, numpy's x / 255), and
  // (x - mean) / std as torchvision's Normalize does, so a model sees the very floats it
  // would have been sent as a tensor.
  const auto divisor = static_cast<float>(1.0 / spec.scale);
  auto store = [&](uint32_t c, uint32_t y, uint32_t x, float pixel) {
    const std::size_t at = spec.channels_last
                               ? (static_cast<std::size_t>(y) * w_out + x) * c_count + c
                               : (static_cast<std::size_t>(c) * h_out + y) * w_out + x;
    out[at] = (pixel / divisor - mean[c]) / std[c];
  };
  const uint8_t* px = image.pixels.data();
  const uint32_t w_in = image.width;
  if (image.height == h_out && image.width == w_out) {
    for (uint32_t y = 0; y < h_out; ++y)
      for (uint32_t x = 0; x < w_out; ++x)
        for (uint32_t c = 0; c < c_count; ++c)
          store(c, y, x, px[(static_cast<std::size_t>(y) * w_in + x) * c_count + c]);
    return;
  }
  const std::vector<Tap> rows = taps(image.height, h_out), cols = taps(image.width, w_out);
  for (uint32_t y = 0; y < h_out; ++y) {
    const Tap& r = rows[y];
    for (uint32_t x = 0; x < w_out; ++x) {
      const Tap& k = cols[x];
      for (uint32_t c = 0; c < c_count; ++c) {
        auto at = [&](uint32_t yy, uint32_t xx) {
          return static_cast<float>(px[(static_cast<std::size_t>(yy) * w_in + xx) * c_count + c]);
        };
        const float top = at(r.lo, k.lo) + (at(r.lo, k.hi) - at(r.lo, k.lo)) * k.weight;
        const float bottom = at(r.hi, k.lo) + (at(r.hi, k.hi) - at(r.hi, k.lo)) * k.weight;
        store(c, y, x, top + (bottom - top) * r.weight);
      }
    }
  }
}

}  // namespace mg::gateway
