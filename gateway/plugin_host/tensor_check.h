#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "gateway/plugin_host/tensor.h"

namespace mg::gateway {

// Shapes and sizes are checked with these checks before data reaches a plugin and when a
// plugin hands data back. Each returns nullopt when fine, else a message a person can act
// on that names the tensor and what was expected.

// Largest element count accepted anywhere: keeps products of dimensions far from overflow.
inline constexpr uint64_t kMaxElements = uint64_t{1} << 40;

// product(shape) when every dimension is >= 0 and the product is <= kMaxElements.
std::optional<uint64_t> element_count(const std::vector<int64_t>& shape);

// Walks a BYTES tensor's serialised elements (4-byte little-endian length + bytes):
// there must be exactly `elements` of them covering exactly `byte_size` bytes.
std::optional<std::string> check_bytes_layout(const std::string& name, const void* data,
                                              uint64_t byte_size, uint64_t elements);

// A concrete dtype and shape against a declaration: dtype, rank, fixed dimensions and an
// element count within kMaxElements. `batch_rows`, when set, is the required dimension 0.
std::optional<std::string> check_shape(const TensorDesc& declared, DType dtype,
                                       const std::vector<int64_t>& shape,
                                       std::optional<uint64_t> batch_rows);

// check_shape, then the byte size and (for BYTES) the element layout of the data.
std::optional<std::string> check_tensor(const TensorDesc& declared, const TensorRef& actual,
                                        std::optional<uint64_t> batch_rows);

// A request's (or a batch's) tensors against a model's metadata: every declared input
// present once and no other, each passing check_tensor with `batch_rows` as its dimension
// 0, every requested output known and named once. The one set of messages for inputs:
// the API answers a request with them (400) and the host refuses a batch with them.
std::optional<std::string> check_request(const ModelMetadata& metadata,
                                         const std::vector<TensorRef>& inputs,
                                         const std::vector<std::string>& outputs,
                                         std::optional<uint64_t> batch_rows);

// "batch of N rows exceeds the model's max batch size M" when it does.
std::optional<std::string> check_batch_rows(const ModelMetadata& metadata, uint64_t rows);

// A whole batch: request rows consistent with the batch dimension and max batch size, then
// check_request.
std::optional<std::string> check_batch(const ModelMetadata& metadata, const BatchInput& batch);

}  // namespace mg::gateway
