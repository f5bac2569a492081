// Image files into pixels, with Debian's libpng and libjpeg-turbo: no decoder of our own.
#include "gateway/preprocess/image_decode.h"

#include <png.h>
#include <turbojpeg.h>

#include <cstring>
#include <memory>
#include <vector>

namespace mg::gateway {
namespace {

bool is_png(std::span<const std::byte> file) {
  static constexpr unsigned char kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  return file.size() >= 8 && std::memcmp(file.data(), kSignature, 8) == 0;
}

bool is_jpeg(std::span<const std::byte> file) {
  return file.size() >= 3 && std::to_integer<uint8_t>(file[0]) == 0xff &&
         std::to_integer<uint8_t>(file[1]) == 0xd8 && std::to_integer<uint8_t>(file[2]) == 0xff;
}

// Checks the size the header declares; for a large image, waits for a slot of the gate
// (returned, to be held by the decoded image).
std::shared_ptr<void> check_size(uint64_t width, uint64_t height, const ImageLimits& limits) {
  if (width == 0 || height == 0) throw ImageError("the image has no pixels");
  if (width * height > limits.max_pixels) {
    throw ImageError("the image is " + std::to_string(width) + "x" + std::to_string(height) +
                     " pixels, over the limit of " + std::to_string(limits.max_pixels));
  }
  if (limits.gate != nullptr && width * height > limits.gated_pixels) return limits.gate->enter();
  return nullptr;
}

DecodedImage decode_png(std::span<const std::byte> file, uint32_t channels,
                        const ImageLimits& limits) {
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  // Frees libpng's state on every path, including a throw below.
  struct Release {
    png_image* image;
    ~Release() { png_image_free(image); }
  } release{&image};
  if (!png_image_begin_read_from_memory(&image, file.data(), file.size())) {
    throw ImageError(std::string("not a readable PNG: ") + image.message);
  }
  DecodedImage out{image.width, image.height, channels, {}, {}};
  out.slot = check_size(image.width, image.height, limits);
  // A 16-bit file read as 8-bit would be gamma-encoded by libpng (it takes 16-bit samples
  // without a gAMA chunk as linear light): read it as 16-bit samples, unchanged, and scale.
  const bool sixteen_bit = (image.format & PNG_FORMAT_FLAG_LINEAR) != 0;
  image.format = (channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB) |
                 (sixteen_bit ? PNG_FORMAT_FLAG_LINEAR : 0);
  std::vector<uint16_t> samples(sixteen_bit ? PNG_IMAGE_SIZE(image) / 2 : 0);
  out.pixels.resize(sixteen_bit ? samples.size() : PNG_IMAGE_SIZE(image));
  void* buffer = sixteen_bit ? static_cast<void*>(samples.data()) : out.pixels.data();
  // background null: alpha is composited over black.
  if (!png_image_finish_read(&image, nullptr, buffer, 0, nullptr)) {
    throw ImageError(std::string("a corrupt or truncated PNG: ") + image.message);
  }
  for (std::size_t i = 0; i < samples.size(); ++i)
    out.pixels[i] = static_cast<uint8_t>((samples[i] + 128u) / 257u);
  return out;
}

DecodedImage decode_jpeg(std::span<const std::byte> file, uint32_t channels,
                         const ImageLimits& limits) {
  std::unique_ptr<void, int (*)(tjhandle)> handle(tjInitDecompress(), tjDestroy);
  if (!handle) throw std::runtime_error("cannot start the JPEG decoder");
  const auto* data = reinterpret_cast<const unsigned char*>(file.data());
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  if (tjDecompressHeader3(handle.get(), data, file.size(), &width, &height, &subsampling,
                          &colorspace) != 0) {
    throw ImageError(std::string("not a readable JPEG: ") + tjGetErrorStr2(handle.get()));
  }
  if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK) {
    throw ImageError("a CMYK JPEG: send the image as RGB or greyscale");
  }
  DecodedImage out{static_cast<uint32_t>(width), static_cast<uint32_t>(height), channels, {}, {}};
  out.slot = check_size(static_cast<uint64_t>(width), static_cast<uint64_t>(height), limits);
  out.pixels.resize(static_cast<std::size_t>(width) * height * channels);
  // STOPONWARNING: a truncated or corrupt stream is an error, not grey rows; LIMITSCANS:
  // a progressive JPEG of thousands of scans (a CPU bomb) is refused.
  const int flags = TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS | TJFLAG_ACCURATEDCT;
  if (tjDecompress2(handle.get(), data, file.size(), out.pixels.data(), width, 0, height,
                    channels == 1 ? TJPF_GRAY : TJPF_RGB, flags) != 0) {
    throw ImageError(std::string("a corrupt or truncated JPEG: ") + tjGetErrorStr2(handle.get()));
  }
  return out;
}

}  // namespace

DecodedImage decode_image(std::span<const std::byte> file, uint32_t channels,
                          const ImageLimits& limits) {
  if (channels != 1 && channels != 3) throw std::invalid_argument("channels must be 1 or 3");
  if (is_png(file)) return decode_png(file, channels, limits);
  if (is_jpeg(file)) return decode_jpeg(file, channels, limits);
  throw ImageError("not a PNG or JPEG file");
}

}  // namespace mg::gateway
