// Properties the KServe decoding fuzzers check on every input.
#pragma once

#include <cstdint>

#include "gateway/api/errors.h"
#include "gateway/api/kserve_codec.h"
#include "gateway/plugin_host/dtype.h"
#include "tests/fuzz/fuzz_finding.h"

namespace mg::fuzz {

// Every decoded input has a known dtype, non-negative dims, and exactly
// product(shape) * size(dtype) bytes (BYTES excepted: variable length).
inline void check_inputs(const gateway::InferRequest& request) {
  for (const auto& input : request.inputs) {
    if (input.dtype == gateway::DType::kInvalid) finding("input with an invalid dtype");
    uint64_t count = 1;
    for (const auto dim : input.shape) {
      if (dim < 0) finding("negative dimension accepted");
      if (__builtin_mul_overflow(count, static_cast<uint64_t>(dim), &count)) {
        finding("element count overflow accepted");
      }
    }
    const uint64_t element = gateway::dtype_size(input.dtype);
    uint64_t bytes = 0;
    if (__builtin_mul_overflow(count, element, &bytes)) finding("byte count overflow accepted");
    if (element > 0 && bytes != input.data.size()) finding("byte size != shape x dtype");
  }
}

// Decodes and checks: inputs as above, refusals 400 bad_request (413 for sizes) only.
inline void decode_and_check(const gateway::HttpRequest& request) {
  try {
    check_inputs(gateway::decode_infer_request(request));
  } catch (const gateway::ApiError& e) {
    if (e.status() != 400 && e.status() != 413) finding("decode error that is not 400/413");
  }
}

}  // namespace mg::fuzz
