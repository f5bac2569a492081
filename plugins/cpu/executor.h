#pragma once

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

  // inputs: one per graph input, in order, with their actual shapes. Returns one tensor
  // per graph output; they hold pooled buffers, so use them before the next run.
  std::vector<Tensor> run(std::vector<Tensor> inputs);

  std::size_t pooled_bytes() const { return pool_.bytes_held(); }

 private:
  std::shared_ptr<const Graph> graph_;
  ThreadPool threads_;
  BufferPool pool_;
  std::vector<std::vector<int>> release_after_;  // per node: values whose last use it is
  std::vector<Tensor> values_;
};

}  // namespace mg::cpu
