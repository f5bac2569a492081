// Fuzzes KServe v2 JSON request decoding (flat and nested "data", every dtype).
// Beyond "no crash": a decoded input's bytes must be exactly its element count times
// its dtype's size, which is what the backends rely on.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "gateway/api/errors.h"
#include "gateway/api/kserve_codec.h"
#include "tests/fuzz/kserve_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mg::gateway::HttpRequest request;
  request.method = "POST";
  request.target = "/v2/models/m/infer";
  request.body.assign(reinterpret_cast<const char*>(data), size);
  mg::fuzz::decode_and_check(request);
  return 0;
}
