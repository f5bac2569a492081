#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "gateway/preprocess/decode_gate.h"
#include "gateway/preprocess/raw_input_error.h"

namespace mg::gateway {

// An image file that cannot become a tensor: not PNG or JPEG, truncated, corrupt, of a
// kind refused (CMYK JPEG), or larger than the limits. The message says which, for a 400.
class ImageError : public RawInputError {
 public:
  using RawInputError::RawInputError;
};

// 8-bit pixels, rows top to bottom, channels interleaved (grey: 1, RGB: 3).
struct DecodedImage {
  uint32_t width = 0, height = 0, channels = 0;
  std::vector<uint8_t> pixels;  // width * height * channels
  std::shared_ptr<void> slot;   // of the limits' gate, for a large image: freed with it
};

struct ImageLimits {
  // Largest width × height decoded. Checked on the file's header before any pixel is
  // decoded, so a small file claiming a huge image (a decompression bomb) costs nothing.
  uint64_t max_pixels = uint64_t{24} << 20;  // 24 Mpixel (72 MiB as RGB)
  // An image over gated_pixels is decoded only inside a slot of the gate (when there is
  // one), held until the DecodedImage is destroyed: after its resize into the tensor.
  DecodeGate* gate = nullptr;
  uint64_t gated_pixels = uint64_t{1} << 20;  // 1 Mpixel: 3 MiB as RGB, ~10 ms to decode
};

// Decodes a PNG (Debian's libpng, its simplified API: palette, 16-bit, grey and alpha
// converted) or a baseline/progressive JPEG (libjpeg-turbo's TurboJPEG) into grey (channels
// 1) or RGB (3); alpha is composited over black (PNG) and dropped. Throws ImageError.
DecodedImage decode_image(std::span<const std::byte> file, uint32_t channels,
                          const ImageLimits& limits = {});

}  // namespace mg::gateway
