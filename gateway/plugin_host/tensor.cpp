#include "gateway/plugin_host/tensor.h"

namespace mg::gateway {

const TensorDesc* ModelMetadata::find_input(const std::string& name) const {
  for (const auto& input : inputs) {
    if (input.name == name) return &input;
  }
  return nullptr;
}

const TensorDesc* ModelMetadata::find_output(const std::string& name) const {
  for (const auto& output : outputs) {
    if (output.name == name) return &output;
  }
  return nullptr;
}

}  // namespace mg::gateway
