// Fuzzes request-body decompression (Content-Encoding gzip / deflate): any bytes get a
// body within the limit or an ApiError, never a crash, a hang or an allocation past it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "gateway/api/content_encoding.h"
#include "gateway/api/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks the encoding; the rest is the body.
  const std::string_view encodings[] = {"gzip", "deflate", "identity", "x-gzip"};
  const std::string_view encoding = encodings[data[0] % 4];
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  constexpr std::size_t kLimit = 1 << 20;
  try {
    auto decoded = mg::gateway::decode_content(encoding, body, kLimit);
    if (decoded && decoded->size() > kLimit) std::abort();  // the limit is a promise
  } catch (const mg::gateway::ApiError&) {
  }
  return 0;
}
