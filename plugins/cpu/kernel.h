#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "plugins/cpu/cpu_error.h"
#include "plugins/cpu/graph.h"
#include "plugins/cpu/tensor.h"
#include "plugins/cpu/thread_pool.h"

namespace mg::cpu {

// Reuses intermediate buffers between the nodes of one run and across runs: a buffer goes
// back to the free set when the last tensor holding it dies, and a request takes the
// smallest free buffer that is big enough (best fit), so the pool grows to about the
// largest set of tensors alive at once. One per instance; not thread-safe (an instance
// runs one batch at a time). Must outlive every tensor it made.
class BufferPool {
 public:
  // Largest single buffer: an absurd shape fails here instead of exhausting memory.
  static constexpr std::size_t kMaxBytes = std::size_t{4} << 30;

  std::shared_ptr<void> get(std::size_t bytes);
  std::size_t bytes_held() const { return held_; }

 private:
  // (capacity, buffer); a vector rather than a multimap, whose every give-back allocated a
  // node: a pool holds a few buffers, and a best-fit scan of them is cheaper than that.
  std::vector<std::pair<std::size_t, std::byte*>> free_;
  std::size_t held_ = 0;

 public:
  ~BufferPool();
};

// What a kernel sees: its node, its inputs (nullptr for an omitted optional input), and
// a way to make its outputs.
struct KernelContext {
  const Node& node;
  // The caller's (the Executor keeps both from run to run: no allocation per node).
  std::vector<const Tensor*>& inputs;
  std::vector<Tensor>& outputs;  // one per node output
  BufferPool& pool;
  ThreadPool& threads;
  // Where a value that is a graph output goes: a caller-owned buffer of the given size
  // (the host's output buffer), or nullptr for a pooled one. Null: always pooled. Set by
  // the Executor when its caller places outputs (a plain function and its state: building
  // a context costs nothing).
  std::byte* (*place_value)(const void* state, int value, ElemType, const Shape&,
                            std::size_t bytes) = nullptr;
  const void* place_state = nullptr;

  std::size_t input_count() const { return inputs.size(); }
  bool has_input(std::size_t i) const { return i < inputs.size() && inputs[i] != nullptr; }
  const Tensor& input(std::size_t i) const;
  bool wants_output(std::size_t i) const { return i < node.outputs.size() && node.outputs[i] >= 0; }
  // A new output tensor with an uninitialised buffer: pooled, or the caller's (place_output).
  Tensor& output(std::size_t i, ElemType type, Shape shape);
  // An output that shares `source`'s bytes (Reshape, Squeeze, Identity, …).
  Tensor& alias_output(std::size_t i, const Tensor& source, Shape shape);
  [[noreturn]] void fail(const std::string& why) const;
  // An ONNX axis attribute (negative counts from the end) as 0..rank-1; fails if outside.
  int64_t axis(int64_t axis, int64_t rank) const;
  // An index into a dimension of `len` read from a tensor (negative counts from the end)
  // as 0..len-1; fails outside.
  int64_t index(int64_t index, int64_t len) const;
};

}  // namespace mg::cpu
