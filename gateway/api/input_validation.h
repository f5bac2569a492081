#pragma once

#include "gateway/api/kserve_codec.h"
#include "gateway/plugin_host/backend.h"
#include "gateway/plugin_host/tensor.h"

namespace mg::gateway {

// Checks a decoded request against the model's metadata before it reaches the batcher:
// every input known, given once, of the declared dtype and shape (plugin_host's
// check_tensor, the same check the host applies to a batch), within max_batch_size, all
// inputs agreeing on dimension 0 and none of them empty there; every requested output
// known. Throws 400 bad_request naming the tensor. Returns the request as the batcher
// takes it: views of the decoded tensors (valid while `request` lives) and the output names.
struct CheckedRequest {
  std::vector<TensorRef> inputs;
  std::vector<std::string> outputs;
};
CheckedRequest validate_inputs(const ModelMetadata& metadata, const InferRequest& request);

}  // namespace mg::gateway
