#include "plugins/cpu/tensor.h"

#include <cstring>

#include "plugins/cpu/cpu_error.h"

namespace mg::cpu {

std::size_t elem_size(ElemType type) {
  switch (type) {
    case ElemType::kFloat:
    case ElemType::kInt32:
      return 4;
    case ElemType::kInt64:
    case ElemType::kDouble:
      return 8;
    case ElemType::kUint8:
    case ElemType::kInt8:
    case ElemType::kBool:
      return 1;
    case ElemType::kUndefined:
      break;
  }
  return 0;
}

std::string elem_name(ElemType type) {
  switch (type) {
    case ElemType::kFloat:
      return "float";
    case ElemType::kUint8:
      return "uint8";
    case ElemType::kInt8:
      return "int8";
    case ElemType::kInt32:
      return "int32";
    case ElemType::kInt64:
      return "int64";
    case ElemType::kBool:
      return "bool";
    case ElemType::kDouble:
      return "double";
    case ElemType::kUndefined:
      break;
  }
  return "type " + std::to_string(static_cast<int32_t>(type));
}

int64_t num_elements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) {
      throw CpuError(CpuError::kInvalid, "shape " + shape_text(shape) +
                                             " has a negative dimension or too many elements");
    }
  }
  return n;
}

std::vector<int64_t> row_major_strides(const Shape& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (std::size_t d = shape.size(); d-- > 1;) strides[d - 1] = strides[d] * shape[d];
  return strides;
}

std::size_t Tensor::byte_size() const {
  const int64_t elements = size();
  const auto width = static_cast<int64_t>(elem_size(type));
  if (width > 0 && elements > kMaxTensorBytes / width) {
    throw CpuError(CpuError::kInvalid,
                   "a tensor of shape " + shape_text(shape) + " would exceed the backend's " +
                       std::to_string(kMaxTensorBytes >> 30) + " GiB limit per tensor");
  }
  return static_cast<std::size_t>(elements * width);
}

std::string shape_text(const Shape& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    text += (i ? ", " : "") + std::to_string(shape[i]);
  }
  return text + "]";
}

Tensor Tensor::owned(ElemType type, Shape shape) {
  Tensor t;
  t.type = type;
  t.shape = std::move(shape);
  std::size_t bytes = t.byte_size();
  auto buffer = std::shared_ptr<std::byte[]>(new std::byte[bytes ? bytes : 1]());
  t.bytes = buffer.get();
  t.holder = std::move(buffer);
  return t;
}

int64_t Tensor::int_at(int64_t i) const {
  if (type == ElemType::kInt64) return data<const int64_t>()[i];
  if (type == ElemType::kInt32) return data<const int32_t>()[i];
  throw CpuError(CpuError::kInvalid, "expected an integer tensor, got " + elem_name(type));
}

double Tensor::number_at(int64_t i) const {
  if (type == ElemType::kFloat) return data<const float>()[i];
  if (type == ElemType::kDouble) return data<const double>()[i];
  return static_cast<double>(int_at(i));
}

std::vector<int64_t> Tensor::ints() const {
  std::vector<int64_t> values(static_cast<std::size_t>(size()));
  for (int64_t i = 0; i < size(); ++i) values[static_cast<std::size_t>(i)] = int_at(i);
  return values;
}

}  // namespace mg::cpu
