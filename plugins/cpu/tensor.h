#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace mg::cpu {

// Element types the backend computes with, numbered as ONNX's TensorProto.DataType.
enum class ElemType : int32_t {
  kUndefined = 0,
  kFloat = 1,
  kUint8 = 2,
  kInt8 = 3,
  kInt32 = 6,
  kInt64 = 7,
  kBool = 9,
  kDouble = 11,
};

// Bytes per element; 0 for a type the backend does not support.
std::size_t elem_size(ElemType type);
std::string elem_name(ElemType type);

using Shape = std::vector<int64_t>;
// The largest tensor the backend creates: 2^34 bytes (16 GiB). Shapes a model computes
// from request values (ConstantOfShape, Expand, Reshape) must not wrap around int64 into
// a small allocation that kernels then overrun, nor ask for more than the machine has.
inline constexpr int64_t kMaxTensorBytes = int64_t{1} << 34;
// The product of the dimensions. Throws CpuError(kInvalid) when a dimension is negative
// or the product does not fit in int64: a shape is never silently wrapped.
int64_t num_elements(const Shape& shape);
// Elements between consecutive indices of each dimension, row-major.
std::vector<int64_t> row_major_strides(const Shape& shape);
std::string shape_text(const Shape& shape);

// A dense row-major tensor. The bytes are shared: `holder` keeps them alive (a pooled
// buffer, an initializer, or nothing for borrowed host memory), so views such as Reshape
// alias their input without copying.
struct Tensor {
  ElemType type = ElemType::kUndefined;
  Shape shape;
  std::shared_ptr<void> holder;
  std::byte* bytes = nullptr;
  // The data is in channel-last order (N, spatial…, C), not ONNX's (N, C, spatial…):
  // set on the values the layout pass chose (Value::channels_last, layout.h), which only
  // kernels that read either order ever see.
  bool channels_last = false;

  int64_t size() const { return num_elements(shape); }
  // Throws CpuError(kInvalid) past kMaxTensorBytes (and so never wraps).
  std::size_t byte_size() const;
  template <typename T>
  T* data() const {
    return reinterpret_cast<T*>(bytes);
  }
  int64_t dim(int64_t axis) const { return shape[static_cast<std::size_t>(axis)]; }
  int64_t rank() const { return static_cast<int64_t>(shape.size()); }

  // A tensor owning a fresh zero-filled buffer.
  static Tensor owned(ElemType type, Shape shape);
  // Reads element i of an integer tensor (INT32/INT64) as int64.
  int64_t int_at(int64_t i) const;
  // Reads element i of a float or integer tensor (FP32/FP64/INT32/INT64) as double.
  double number_at(int64_t i) const;
  // The tensor's values as int64s (INT32/INT64 only).
  std::vector<int64_t> ints() const;
};

}  // namespace mg::cpu
