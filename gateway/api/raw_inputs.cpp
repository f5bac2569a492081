#include "gateway/api/raw_inputs.h"

#include "gateway/api/errors.h"
#include "gateway/plugin_host/tensor_check.h"

namespace mg::gateway {

void prepare_raw_inputs(const Preprocessing& preprocessing, const ModelMetadata& metadata,
                        InferRequest& request) {
  if (preprocessing.empty()) return;
  const bool batched = metadata.max_batch_size > 0;
  for (auto& input : request.inputs) {
    const RawInput* raw = preprocessing.find(input.name);
    if (raw == nullptr || input.dtype != DType::kBytes) continue;
    const std::string what = "input '" + input.name + "'";
    const char* kind = raw->kind == RawInput::Kind::kText ? "texts" : "images";
    if (input.shape.size() != 1) {
      throw bad_request(what + ": raw " + kind + " are sent as a BYTES tensor of shape [N], not " +
                        std::to_string(input.shape.size()) + " dimensions");
    }
    const auto count = element_count(input.shape);
    if (!count || *count == 0) throw bad_request(what + ": no " + kind);
    if (batched && *count > static_cast<uint64_t>(metadata.max_batch_size)) {
      throw bad_request(what + ": " + std::to_string(*count) + " " + kind + ", over the model's " +
                        "max batch size " + std::to_string(metadata.max_batch_size));
    }
    if (auto why = check_bytes_layout(input.name, input.data.data(), input.data.size(), *count)) {
      throw bad_request(*why);
    }
    try {
      RawTensor tensor = raw_to_tensor(*raw, *metadata.find_input(input.name), batched, input.data,
                                       *count, input.from_json);
      input.owned = std::move(tensor.data);
      input.data = input.owned;
      input.shape = std::move(tensor.shape);
      input.dtype = metadata.find_input(input.name)->dtype;
    } catch (const RawInputError& e) {
      throw bad_request(e.what());
    }
  }
}

}  // namespace mg::gateway
