#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "modelgate/plugin.h"

namespace mg::gateway {

// The tensor element types of the C ABI, with their KServe v2 names.
enum class DType : int32_t {
  kInvalid = MG_DTYPE_INVALID,
  kBool = MG_DTYPE_BOOL,
  kUint8 = MG_DTYPE_UINT8,
  kUint16 = MG_DTYPE_UINT16,
  kUint32 = MG_DTYPE_UINT32,
  kUint64 = MG_DTYPE_UINT64,
  kInt8 = MG_DTYPE_INT8,
  kInt16 = MG_DTYPE_INT16,
  kInt32 = MG_DTYPE_INT32,
  kInt64 = MG_DTYPE_INT64,
  kFp16 = MG_DTYPE_FP16,
  kFp32 = MG_DTYPE_FP32,
  kFp64 = MG_DTYPE_FP64,
  kBytes = MG_DTYPE_BYTES,
  kBf16 = MG_DTYPE_BF16,
};

// "FP32", "BYTES", …; "INVALID" for anything that is not a known dtype.
std::string_view dtype_name(DType dtype);
std::optional<DType> dtype_from_name(std::string_view name);
// A C ABI value, checked: nullopt for an unknown or invalid value.
std::optional<DType> dtype_from_abi(int32_t value);
// Bytes per element; 0 for BYTES (variable length) and kInvalid.
std::size_t dtype_size(DType dtype);

}  // namespace mg::gateway
