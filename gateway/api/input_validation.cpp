#include "gateway/api/input_validation.h"

#include <optional>
#include <string>

#include "gateway/api/errors.h"
#include "gateway/plugin_host/tensor_check.h"

namespace mg::gateway {

void validate_inputs(const ModelMetadata& metadata, const InferRequest& request) {
  for (const auto& input : request.inputs) {
    const TensorDesc* declared = metadata.find_input(input.name);
    if (declared == nullptr) {
      std::string names;
      for (const auto& i : metadata.inputs) names += (names.empty() ? "'" : ", '") + i.name + "'";
      throw bad_request("input '" + input.name +
                        "' is not an input of this model (inputs: " + names + ")");
    }
    TensorRef ref{input.name, input.dtype, input.shape, input.data.data(), input.data.size()};
    if (auto why = check_tensor(*declared, ref, std::nullopt)) {
      throw bad_request("input " + why->substr(std::string("tensor ").size()));
    }
    if (metadata.max_batch_size > 0 && !input.shape.empty() &&
        input.shape[0] > metadata.max_batch_size) {
      throw bad_request("input '" + input.name + "': batch of " + std::to_string(input.shape[0]) +
                        " exceeds the model's max batch size " +
                        std::to_string(metadata.max_batch_size));
    }
  }
  for (const auto& declared : metadata.inputs) {
    bool given = false;
    for (const auto& input : request.inputs) {
      if (input.name == declared.name) {
        if (given) throw bad_request("input '" + declared.name + "' is given twice");
        given = true;
      }
    }
    if (!given) throw bad_request("missing input '" + declared.name + "'");
  }
  if (metadata.max_batch_size > 0) {
    for (const auto& input : request.inputs) {
      if (input.shape[0] != request.inputs[0].shape[0]) {
        throw bad_request("inputs disagree on the batch size (dimension 0)");
      }
    }
    if (!request.inputs.empty() && request.inputs[0].shape[0] == 0) {
      throw bad_request("the batch (dimension 0) is empty");
    }
  }
  for (const auto& output : request.outputs) {
    if (metadata.find_output(output.name) == nullptr) {
      throw bad_request("output '" + output.name + "' is not an output of this model");
    }
  }
}

}  // namespace mg::gateway
