#include "gateway/api/input_validation.h"

#include <optional>
#include <string>
#include <vector>

#include "gateway/api/errors.h"
#include "gateway/plugin_host/tensor_check.h"

namespace mg::gateway {

CheckedRequest validate_inputs(const ModelMetadata& metadata, const InferRequest& request) {
  // A batching model's requests carry their rows in dimension 0: the first input's is the
  // request's, and every other input must agree (check_tensor's batch_rows).
  std::optional<uint64_t> rows;
  if (metadata.max_batch_size > 0 && !request.inputs.empty() && !request.inputs[0].shape.empty() &&
      request.inputs[0].shape[0] >= 0) {
    rows = static_cast<uint64_t>(request.inputs[0].shape[0]);
    if (*rows == 0) throw bad_request("the batch (dimension 0) is empty");
    if (auto why = check_batch_rows(metadata, *rows)) throw bad_request(*why);
  }
  CheckedRequest checked;
  checked.inputs.reserve(request.inputs.size());
  for (const auto& input : request.inputs) {
    checked.inputs.push_back(
        TensorRef{input.name, input.dtype, input.shape, input.data.data(), input.data.size()});
  }
  checked.outputs.reserve(request.outputs.size());
  for (const auto& output : request.outputs) checked.outputs.push_back(output.name);
  // The host checks the merged batch with the same function: one set of messages.
  if (auto why = check_request(metadata, checked.inputs, checked.outputs, rows)) {
    throw bad_request(*why);
  }
  return checked;
}

}  // namespace mg::gateway
