#include "plugins/cpu/executor.h"

#include <algorithm>

#include "plugins/cpu/cpu_error.h"

namespace mg::cpu {

Executor::Executor(std::shared_ptr<const Graph> graph, int threads)
    : graph_(std::move(graph)), threads_(threads) {
  // The memory plan: each intermediate value is released right after its last consumer,
  // so its buffer returns to the pool for the nodes that follow.
  const Graph& g = *graph_;
  std::vector<int> last_use(g.values.size(), -1);
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    for (int in : g.nodes[i].inputs) {
      if (in >= 0) last_use[static_cast<std::size_t>(in)] = static_cast<int>(i);
    }
    for (int out : g.nodes[i].outputs) {
      if (out >= 0 && last_use[static_cast<std::size_t>(out)] < 0) {
        last_use[static_cast<std::size_t>(out)] = static_cast<int>(i);  // produced, unused
      }
    }
  }
  for (int out : g.outputs) last_use[static_cast<std::size_t>(out)] = -1;  // kept to the end
  release_after_.resize(g.nodes.size());
  for (std::size_t v = 0; v < g.values.size(); ++v) {
    if (last_use[v] >= 0 && !g.values[v].constant) {
      release_after_[static_cast<std::size_t>(last_use[v])].push_back(static_cast<int>(v));
    }
  }
  values_.resize(g.values.size());
  output_index_.assign(g.values.size(), -1);
  for (std::size_t k = g.outputs.size(); k-- > 0;) {
    output_index_[static_cast<std::size_t>(g.outputs[k])] = static_cast<int>(k);
  }
}

std::vector<Tensor> Executor::run(std::vector<Tensor> inputs, const OutputPlacer& place) {
  const Graph& g = *graph_;
  // Constants are read where the graph keeps them, never copied into values_ (a copy per
  // constant per run cost a shape allocation and two reference-count updates).
  auto value = [&](int v) -> const Tensor& {
    const auto& constant = g.values[static_cast<std::size_t>(v)].constant;
    return constant ? *constant : values_[static_cast<std::size_t>(v)];
  };
  for (std::size_t i = 0; i < g.inputs.size(); ++i) {
    values_[static_cast<std::size_t>(g.inputs[i])] = std::move(inputs.at(i));
  }
  struct Clear {  // no pooled buffer outlives a run, failed or not
    std::vector<Tensor>& values;
    std::vector<Tensor>& node_outputs;
    ~Clear() {
      for (auto& v : values) v = Tensor{};
      node_outputs.clear();
    }
  } clear{values_, node_outputs_};
  // Values → graph outputs → the caller's placer.
  struct Placing {
    const std::vector<int>& output_index;
    const OutputPlacer& place;
  } placing{output_index_, place};
  auto place_value = [](const void* state, int value, ElemType type, const Shape& shape,
                        std::size_t bytes) -> std::byte* {
    const auto& p = *static_cast<const Placing*>(state);
    const int k = p.output_index[static_cast<std::size_t>(value)];
    return k < 0 ? nullptr : p.place(static_cast<std::size_t>(k), type, shape, bytes);
  };
  // (members, so that their capacity lasts from run to run)
  auto& node_inputs = node_inputs_;
  auto& node_outputs = node_outputs_;
  for (std::size_t n = 0; n < g.nodes.size(); ++n) {
    const Node& node = g.nodes[n];
    node_inputs.clear();
    for (int in : node.inputs) node_inputs.push_back(in < 0 ? nullptr : &value(in));
    node_outputs.clear();
    node_outputs.resize(node.outputs.size());
    KernelContext ctx{node, node_inputs, node_outputs, pool_, threads_};
    if (place) {
      ctx.place_value = place_value;
      ctx.place_state = &placing;
    }
    try {
      node.kernel(ctx);
    } catch (const std::bad_alloc&) {
      throw CpuError(CpuError::kOutOfMemory, node.where() + ": out of memory");
    }
    for (std::size_t k = 0; k < node.outputs.size(); ++k) {
      if (node.outputs[k] < 0) continue;
      const auto out = static_cast<std::size_t>(node.outputs[k]);
      // An element-wise kernel writes in its input's order; the layout pass says which.
      if (g.values[out].channels_last) node_outputs[k].channels_last = true;
      values_[out] = std::move(node_outputs[k]);
    }
    for (int v : release_after_[n]) values_[static_cast<std::size_t>(v)] = Tensor{};
  }
  std::vector<Tensor> outputs;
  outputs.reserve(g.outputs.size());
  for (int out : g.outputs) outputs.push_back(value(out));
  return outputs;
}

}  // namespace mg::cpu
