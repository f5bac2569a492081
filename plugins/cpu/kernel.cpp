#include "plugins/cpu/kernel.h"

#include <new>

namespace mg::cpu {

namespace {
constexpr std::align_val_t kAlignment{64};
}

BufferPool::~BufferPool() {
  for (auto& [size, block] : free_) ::operator delete[](block, kAlignment);
}

std::shared_ptr<void> BufferPool::get(std::size_t bytes) {
  if (bytes > kMaxBytes) {
    throw CpuError(CpuError::kOutOfMemory,
                   "a tensor of " + std::to_string(bytes) + " bytes exceeds the backend's limit");
  }
  bytes = std::max<std::size_t>(bytes, 1);
  std::byte* block;
  std::size_t capacity;
  auto fit = free_.end();
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    if (it->first >= bytes && (fit == free_.end() || it->first < fit->first)) fit = it;
  }
  if (fit != free_.end()) {
    capacity = fit->first;
    block = fit->second;
    *fit = free_.back();
    free_.pop_back();
  } else {
    block = static_cast<std::byte*>(::operator new[](bytes, kAlignment));
    capacity = bytes;
    held_ += bytes;
  }
  return std::shared_ptr<void>(block, [this, capacity](void* p) {
    free_.emplace_back(capacity, static_cast<std::byte*>(p));
  });
}

const Tensor& KernelContext::input(std::size_t i) const {
  if (!has_input(i)) fail("input " + std::to_string(i) + " is missing");
  return *inputs[i];
}

Tensor& KernelContext::output(std::size_t i, ElemType type, Shape shape) {
  Tensor& t = outputs.at(i);
  t.type = type;
  t.shape = std::move(shape);
  for (int64_t d : t.shape) {
    if (d < 0) fail("computed a negative dimension " + shape_text(t.shape));
  }
  if (place_value != nullptr && node.outputs[i] >= 0) {
    if (std::byte* placed =
            place_value(place_state, node.outputs[i], t.type, t.shape, t.byte_size())) {
      t.holder.reset();  // not ours: valid until the run's caller is done with it
      t.bytes = placed;
      return t;
    }
  }
  t.holder = pool.get(t.byte_size());
  t.bytes = static_cast<std::byte*>(t.holder.get());
  return t;
}

Tensor& KernelContext::alias_output(std::size_t i, const Tensor& source, Shape shape) {
  Tensor& t = outputs.at(i);
  t.type = source.type;
  t.shape = std::move(shape);
  if (t.size() != source.size()) {
    fail("cannot view " + shape_text(source.shape) + " as " + shape_text(t.shape));
  }
  t.holder = source.holder;
  t.bytes = source.bytes;
  return t;
}

int64_t KernelContext::axis(int64_t axis, int64_t rank) const {
  if (axis < -rank || axis >= rank) {
    fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  }
  return axis < 0 ? axis + rank : axis;
}

int64_t KernelContext::index(int64_t index, int64_t len) const {
  if (index < -len || index >= len) {
    fail("index " + std::to_string(index) + " is out of range for a dimension of " +
         std::to_string(len));
  }
  return index < 0 ? index + len : index;
}

void KernelContext::fail(const std::string& why) const {
  throw CpuError(CpuError::kInvalid, node.where() + ": " + why);
}

}  // namespace mg::cpu
