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

// A whole batch against a model's metadata: every input present once, no unknown input,
// request rows consistent with the batch dimension and max batch size, outputs known.
std::optional<std::string> check_batch(const ModelMetadata& metadata, const BatchInput& batch);

}  // namespace mg::gateway
