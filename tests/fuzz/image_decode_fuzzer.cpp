// Fuzzes what a caller may send as a raw image input: any bytes either decode into exactly
// width x height x channels pixels within the pixel limit, or throw ImageError (never
// another exception, a crash, a huge allocation); decoded pixels then become a 28 x 28
// tensor (resized either way) of finite values.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>

#include "gateway/preprocess/image_decode.h"
#include "gateway/preprocess/image_tensor.h"
#include "tests/fuzz/fuzz_finding.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mg::gateway;
  const auto file = std::as_bytes(std::span(data, size));
  const ImageLimits limits{uint64_t{4} << 20};
  for (uint32_t channels : {1u, 3u}) {
    try {
      const DecodedImage image = decode_image(file, channels, limits);
      if (uint64_t{image.width} * image.height > limits.max_pixels)
        mg::fuzz::finding("decoded past the pixel limit");
      if (image.channels != channels ||
          image.pixels.size() != std::size_t{image.width} * image.height * channels) {
        mg::fuzz::finding("pixels do not match the size");
      }
      ImageSpec spec;
      spec.channels = channels;
      spec.height = spec.width = 28;
      float tensor[3 * 28 * 28];
      image_to_tensor(image, spec, tensor);
      for (std::size_t i = 0; i < channels * 28u * 28u; ++i) {
        if (!std::isfinite(tensor[i]) || tensor[i] < 0.0f || tensor[i] > 1.0f)
          mg::fuzz::finding("a pixel became a value outside [0, 1]");
      }
    } catch (const ImageError&) {
    }
  }
  return 0;
}
