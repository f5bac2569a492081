#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "plugins/cpu/graph.h"
#include "plugins/cpu/kernel.h"
#include "plugins/cpu/thread_pool.h"

namespace mg::cpu {

// Runs a graph. One per instance: it owns the instance's thread pool and buffer pool, so
// intermediate buffers are reused from one node to the next (each is released after its
// last use, as planned at construction) and from one batch to the next.
class Executor {
 public:
  Executor(std::shared_ptr<const Graph> graph, int threads);

  // Where graph output k is written: a buffer of `bytes` bytes the caller owns (the
  // host's output buffer), or nullptr to leave it in a pooled one. Called at most once per
  // output, when the node that computes it allocates it; outputs that are views of other
  // values, inputs or constants are never placed.
  using OutputPlacer = std::function<std::byte*(std::size_t k, ElemType type, const Shape& shape,
                                                std::size_t bytes)>;

  // inputs: one per graph input, in order, with their actual shapes. Returns one tensor
  // per graph output; pooled ones must be used before the next run, placed ones point into
  // the caller's buffers.
  std::vector<Tensor> run(std::vector<Tensor> inputs, const OutputPlacer& place = {});

  std::size_t pooled_bytes() const { return pool_.bytes_held(); }

 private:
  std::shared_ptr<const Graph> graph_;
  ThreadPool threads_;
  BufferPool pool_;
  std::vector<std::vector<int>> release_after_;  // per node: values whose last use it is
  std::vector<int> output_index_;  // per value: its index in graph.outputs (first), or -1
  std::vector<Tensor> values_;     // per value computed by this run; constants stay in graph_
  std::vector<const Tensor*> node_inputs_;  // the node being run's
  std::vector<Tensor> node_outputs_;
};

}  // namespace mg::cpu
