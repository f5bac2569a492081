#pragma once

#include <nghttp2/nghttp2.h>
#include <sys/types.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace mg::testing {

// What the gRPC tests' HTTP/2 clients (nghttp2's client session) share.

using HeaderFields = std::vector<std::pair<std::string, std::string>>;

// nghttp2's view of `fields`, which must outlive it.
inline std::vector<nghttp2_nv> header_array(HeaderFields& fields) {
  std::vector<nghttp2_nv> nv;
  for (auto& [name, value] : fields) {
    nv.push_back({reinterpret_cast<uint8_t*>(name.data()), reinterpret_cast<uint8_t*>(value.data()),
                  name.size(), value.size(), NGHTTP2_NV_FLAG_NONE});
  }
  return nv;
}

// A data provider's read: moves up to `length` bytes from the front of `pending` into
// `buffer`, and marks the end of the data once `pending` is empty.
inline ssize_t take_pending(std::string& pending, uint8_t* buffer, size_t length, uint32_t* flags) {
  const std::size_t n = std::min(length, pending.size());
  std::memcpy(buffer, pending.data(), n);
  pending.erase(0, n);
  if (pending.empty()) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(n);
}

}  // namespace mg::testing
