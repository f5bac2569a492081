#pragma once
// Image files made in the tests with the same Debian libraries the server decodes with
// (libpng's simplified writer, TurboJPEG), so every case is generated, not checked in.
#include <png.h>
#include <turbojpeg.h>
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace mg::gateway::test {

// 8-bit pixels (grey, grey+alpha, RGB or RGBA by `format`), or 16-bit when `linear16`
// (format PNG_FORMAT_LINEAR_Y etc.; `pixels16` then holds the samples).
inline std::string png_of(const void* pixels, uint32_t width, uint32_t height, uint32_t format,
                          const void* colormap = nullptr, uint32_t colormap_entries = 0) {
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  image.width = width;
  image.height = height;
  image.format = format;
  image.colormap_entries = colormap_entries;
  png_alloc_size_t size = 0;
  if (!png_image_write_get_memory_size(image, size, 0, pixels, 0, colormap)) {
    throw std::runtime_error(std::string("png size: ") + image.message);
  }
  std::string out(size, '\0');
  if (!png_image_write_to_memory(&image, out.data(), &size, 0, pixels, 0, colormap)) {
    throw std::runtime_error(std::string("png write: ") + image.message);
  }
  out.resize(size);
  return out;
}

// pixel_format: TJPF_GRAY, TJPF_RGB or TJPF_CMYK.
inline std::string jpeg_of(const std::vector<uint8_t>& pixels, int width, int height,
                           int pixel_format, int quality = 95) {
  tjhandle handle = tjInitCompress();
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  const int subsampling = pixel_format == TJPF_GRAY ? TJSAMP_GRAY : TJSAMP_444;
  if (tjCompress2(handle, pixels.data(), width, 0, height, pixel_format, &buffer, &size,
                  subsampling, quality, 0) != 0) {
    tjDestroy(handle);
    throw std::runtime_error(std::string("jpeg write: ") + tjGetErrorStr2(handle));
  }
  std::string out(reinterpret_cast<char*>(buffer), size);
  tjFree(buffer);
  tjDestroy(handle);
  return out;
}

// A PNG that only claims its size: signature, an IHDR of width × height grey 8-bit (with
// its CRC, so libpng reads it), an empty IDAT and IEND. A decoder that trusts it allocates
// width × height bytes.
inline std::string png_claiming(uint32_t width, uint32_t height) {
  auto be32 = [](uint32_t v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 8), static_cast<char>(v)};
  };
  auto chunk = [&](const std::string& type, const std::string& data) {
    const std::string body = type + data;
    const auto crc = static_cast<uint32_t>(
        crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size())));
    return be32(static_cast<uint32_t>(data.size())) + body + be32(crc);
  };
  const std::string ihdr = be32(width) + be32(height) + std::string{8, 0, 0, 0, 0};
  return std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) + chunk("IDAT", "") +
         chunk("IEND", "");
}

}  // namespace mg::gateway::test
