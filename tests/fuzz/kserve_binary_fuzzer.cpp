// Fuzzes the binary tensor extension: a JSON header of Inference-Header-Content-Length
// bytes followed by raw tensor bytes. The first two input bytes choose the header length
// (so it can be shorter, equal or longer than the body), the rest is the body.
#include <cstddef>
#include <cstdint>
#include <string>

#include "gateway/api/errors.h"
#include "gateway/api/kserve_codec.h"
#include "tests/fuzz/kserve_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const unsigned header_length = data[0] | (data[1] << 8);
  mg::gateway::HttpRequest request;
  request.method = "POST";
  request.target = "/v2/models/m/infer";
  request.headers.emplace_back("Inference-Header-Content-Length", std::to_string(header_length));
  request.body.assign(reinterpret_cast<const char*>(data + 2), size - 2);
  mg::fuzz::decode_and_check(request);
  return 0;
}
