#pragma once
// Helpers the tests share for their data: Fashion-MNIST's IDX files (Debian's
// dataset-fashion-mnist, gzip) and BYTES tensor elements.
#include <zlib.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace mg::test {

inline const std::string kFashionMnistDir = "/usr/share/datasets/fashion-mnist/";

// A gzip file's whole content.
inline std::string read_gzip(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) throw std::runtime_error("cannot open " + path);
  std::string data;
  char buffer[1 << 16];
  int n;
  while ((n = gzread(file, buffer, sizeof buffer)) > 0)
    data.append(buffer, static_cast<std::size_t>(n));
  gzclose(file);
  return data;
}

// BYTES elements serialised as KServe and the plugin ABI carry them: each a 4-byte
// little-endian length, then its bytes.
inline std::string serialised(const std::vector<std::string>& elements) {
  std::string out;
  for (const auto& e : elements) {
    const auto length = static_cast<uint32_t>(e.size());
    out.append(reinterpret_cast<const char*>(&length), 4);
    out += e;
  }
  return out;
}

}  // namespace mg::test
