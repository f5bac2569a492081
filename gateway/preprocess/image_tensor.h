#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gateway/preprocess/image_decode.h"

namespace mg::gateway {

// How a model wants an image as its input tensor (a model config's "preprocess" entry of
// type "image", docs/preprocessing.md).
struct ImageSpec {
  uint32_t channels = 3;  // 1: grey, 3: RGB
  uint32_t height = 0, width = 0;
  bool channels_last = false;  // NHWC; otherwise NCHW (also a flat [N, C*H*W] input)
  // value = (pixel * scale - mean[c]) / std[c]; one mean or std value applies to every channel.
  double scale = 1.0 / 255.0;  // double: 1 / scale must come out exactly 255 for 1/255
  std::vector<float> mean = {0.0f}, std = {1.0f};
  ImageLimits limits;
};

// The decoded image resized to spec.height × spec.width (bilinear, half-pixel centres and
// no antialiasing: ONNX Resize's "linear" with "half_pixel", torchvision's antialias=False;
// an image already of that size is taken pixel for pixel), normalised, written as
// channels × height × width floats into `out` in the spec's layout.
void image_to_tensor(const DecodedImage& image, const ImageSpec& spec, float* out);

}  // namespace mg::gateway
