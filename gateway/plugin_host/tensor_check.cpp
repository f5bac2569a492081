#include "gateway/plugin_host/tensor_check.h"

#include <cstring>

namespace mg::gateway {
namespace {

// A listed tensor's name (check_request's duplicate scan, over inputs and outputs alike).
const std::string& name_of(const TensorRef& tensor) { return tensor.name; }
const std::string& name_of(const std::string& name) { return name; }

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

}  // namespace

std::optional<uint64_t> element_count(const std::vector<int64_t>& shape) {
  uint64_t count = 1;
  for (int64_t dim : shape) {
    if (dim < 0) return std::nullopt;
    if (dim == 0) return 0;  // checked before any product, so no overflow below
  }
  for (int64_t dim : shape) {
    if (static_cast<uint64_t>(dim) > kMaxElements / count) return std::nullopt;
    count *= static_cast<uint64_t>(dim);
  }
  return count;
}

std::optional<std::string> check_bytes_layout(const std::string& name, const void* data,
                                              uint64_t byte_size, uint64_t elements) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  uint64_t offset = 0;
  for (uint64_t i = 0; i < elements; ++i) {
    if (byte_size - offset < 4) {
      return "tensor '" + name + "': BYTES element " + std::to_string(i) +
             " is truncated (expected " + std::to_string(elements) + " elements)";
    }
    uint32_t length = static_cast<uint32_t>(bytes[offset]) |
                      static_cast<uint32_t>(bytes[offset + 1]) << 8 |
                      static_cast<uint32_t>(bytes[offset + 2]) << 16 |
                      static_cast<uint32_t>(bytes[offset + 3]) << 24;
    offset += 4;
    if (length > byte_size - offset) {
      return "tensor '" + name + "': BYTES element " + std::to_string(i) + " declares " +
             std::to_string(length) + " bytes but only " + std::to_string(byte_size - offset) +
             " remain";
    }
    offset += length;
  }
  if (offset != byte_size) {
    return "tensor '" + name + "': " + std::to_string(byte_size - offset) +
           " bytes left over after " + std::to_string(elements) + " BYTES elements";
  }
  return std::nullopt;
}

std::optional<std::string> check_shape(const TensorDesc& declared, DType dtype,
                                       const std::vector<int64_t>& shape,
                                       std::optional<uint64_t> batch_rows) {
  const std::string& name = declared.name;
  if (dtype != declared.dtype) {
    return "tensor '" + name + "': expected dtype " + std::string(dtype_name(declared.dtype)) +
           ", got " + std::string(dtype_name(dtype));
  }
  if (shape.size() != declared.shape.size()) {
    return "tensor '" + name + "': expected shape " + shape_text(declared.shape) + " (rank " +
           std::to_string(declared.shape.size()) + "), got " + shape_text(shape);
  }
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0 || (declared.shape[i] >= 0 && shape[i] != declared.shape[i])) {
      return "tensor '" + name + "': expected shape " + shape_text(declared.shape) + ", got " +
             shape_text(shape);
    }
  }
  if (batch_rows && (shape.empty() || static_cast<uint64_t>(shape[0]) != *batch_rows)) {
    return "tensor '" + name + "': expected " + std::to_string(*batch_rows) +
           " rows in dimension 0, got shape " + shape_text(shape);
  }
  if (!element_count(shape)) {
    return "tensor '" + name + "': shape " + shape_text(shape) + " has too many elements";
  }
  return std::nullopt;
}

std::optional<std::string> check_tensor(const TensorDesc& declared, const TensorRef& actual,
                                        std::optional<uint64_t> batch_rows) {
  if (auto why = check_shape(declared, actual.dtype, actual.shape, batch_rows)) return why;
  const std::string& name = declared.name;
  uint64_t elements = *element_count(actual.shape);
  if (actual.byte_size > 0 && actual.data == nullptr) {
    return "tensor '" + name + "': no data";
  }
  if (declared.dtype == DType::kBytes) {
    return check_bytes_layout(name, actual.data, actual.byte_size, elements);
  }
  uint64_t expected = elements * dtype_size(declared.dtype);
  if (actual.byte_size != expected) {
    return "tensor '" + name + "': shape " + shape_text(actual.shape) + " of " +
           std::string(dtype_name(declared.dtype)) + " needs " + std::to_string(expected) +
           " bytes, got " + std::to_string(actual.byte_size);
  }
  return std::nullopt;
}

std::optional<std::string> check_batch_rows(const ModelMetadata& metadata, uint64_t rows) {
  if (metadata.max_batch_size > 0 && rows > static_cast<uint64_t>(metadata.max_batch_size)) {
    return "batch of " + std::to_string(rows) + " rows exceeds the model's max batch size " +
           std::to_string(metadata.max_batch_size);
  }
  return std::nullopt;
}

std::optional<std::string> check_request(const ModelMetadata& metadata,
                                         const std::vector<TensorRef>& inputs,
                                         const std::vector<std::string>& outputs,
                                         std::optional<uint64_t> batch_rows) {
  // Duplicates by scanning what came before: each name must be declared before it is
  // compared, so a list is refused by the time it is longer than the model's own (sets
  // allocated a node per name, on every request).
  const auto given_before = [](const auto& list, std::size_t i, const std::string& name) {
    for (std::size_t j = 0; j < i; ++j) {
      if (name_of(list[j]) == name) return true;
    }
    return false;
  };
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const TensorRef& input = inputs[i];
    const TensorDesc* declared = metadata.find_input(input.name);
    if (declared == nullptr) {
      std::string names;
      for (const auto& i : metadata.inputs) names += (names.empty() ? "'" : ", '") + i.name + "'";
      return "input '" + input.name + "' is not an input of this model (inputs: " + names + ")";
    }
    if (given_before(inputs, i, input.name)) return "input '" + input.name + "' given twice";
    if (auto why = check_tensor(*declared, input, batch_rows)) {
      return "input " + why->substr(std::string_view("tensor ").size());
    }
  }
  for (const auto& declared : metadata.inputs) {
    if (!given_before(inputs, inputs.size(), declared.name)) {
      return "missing input '" + declared.name + "'";
    }
  }
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const std::string& output = outputs[i];
    if (metadata.find_output(output) == nullptr) {
      return "output '" + output + "' is not an output of this model";
    }
    if (given_before(outputs, i, output)) return "output '" + output + "' requested twice";
  }
  return std::nullopt;
}

std::optional<std::string> check_batch(const ModelMetadata& metadata, const BatchInput& batch) {
  if (batch.request_rows.empty()) return "batch has no requests";
  std::optional<uint64_t> rows;
  if (metadata.max_batch_size > 0) {
    uint64_t total = 0;
    for (uint64_t r : batch.request_rows) {
      if (r == 0) return "batch has a request with no rows";
      total += r;
    }
    if (auto why = check_batch_rows(metadata, total)) return why;
    rows = total;
  } else if (batch.request_rows.size() != 1 || batch.request_rows[0] != 1) {
    return "model does not batch: a batch must hold exactly one request";
  }
  return check_request(metadata, batch.inputs, batch.outputs, rows);
}

}  // namespace mg::gateway
