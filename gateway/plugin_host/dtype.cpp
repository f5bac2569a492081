#include "gateway/plugin_host/dtype.h"

#include <array>
#include <utility>

namespace mg::gateway {
namespace {

struct DTypeInfo {
  DType dtype;
  std::string_view name;
  std::size_t size;
};

constexpr std::array<DTypeInfo, 14> kDTypes{{
    {DType::kBool, "BOOL", 1},
    {DType::kUint8, "UINT8", 1},
    {DType::kUint16, "UINT16", 2},
    {DType::kUint32, "UINT32", 4},
    {DType::kUint64, "UINT64", 8},
    {DType::kInt8, "INT8", 1},
    {DType::kInt16, "INT16", 2},
    {DType::kInt32, "INT32", 4},
    {DType::kInt64, "INT64", 8},
    {DType::kFp16, "FP16", 2},
    {DType::kFp32, "FP32", 4},
    {DType::kFp64, "FP64", 8},
    {DType::kBytes, "BYTES", 0},
    {DType::kBf16, "BF16", 2},
}};

const DTypeInfo* find(DType dtype) {
  for (const auto& info : kDTypes) {
    if (info.dtype == dtype) return &info;
  }
  return nullptr;
}

}  // namespace

std::string_view dtype_name(DType dtype) {
  const DTypeInfo* info = find(dtype);
  return info ? info->name : "INVALID";
}

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const auto& info : kDTypes) {
    if (info.name == name) return info.dtype;
  }
  return std::nullopt;
}

std::optional<DType> dtype_from_abi(int32_t value) {
  const DTypeInfo* info = find(static_cast<DType>(value));
  if (info == nullptr) return std::nullopt;
  return info->dtype;
}

std::size_t dtype_size(DType dtype) {
  const DTypeInfo* info = find(dtype);
  return info ? info->size : 0;
}

}  // namespace mg::gateway
