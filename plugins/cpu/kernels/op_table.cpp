#include "plugins/cpu/kernels/kernels.h"

namespace mg::cpu {

const OpTable& OpTable::instance() {
  static const OpTable table = [] {
    OpTable t;
    register_elementwise(t);
    register_activations(t);
    register_math(t);
    register_index_ops(t);
    register_layout_ops(t);
    register_recurrent(t);
    register_conv_transpose(t);
    register_resize(t);
    register_einsum(t);
    register_linalg(t);
    register_conv(t);
    register_pool(t);
    register_normalization(t);
    register_reduce(t);
    register_shape_ops(t);
    return t;
  }();
  return table;
}

void OpTable::add(const std::string& op_type, KernelFn kernel, uint32_t types, PrepareFn prepare) {
  ops_[op_type] = OpInfo{kernel, types, prepare};
}

void OpTable::set_check(const std::string& op_type, CheckFn check) {
  ops_.at(op_type).check = check;
}

const OpInfo* OpTable::find(const std::string& op_type) const {
  auto it = ops_.find(op_type);
  return it == ops_.end() ? nullptr : &it->second;
}

void prepare_kernels(Graph& graph, const KernelOptions& options) {
  for (Node& node : graph.nodes) {
    const OpInfo* op = OpTable::instance().find(node.op_type);
    if (op == nullptr || op->prepare == nullptr) continue;
    node.state = op->prepare(node, graph, options);
    for (std::size_t i = 0; i < node.inputs.size(); ++i) {
      const int id = node.inputs[i];
      if (id < 0 || !node.state || !node.state->holds_constant_input(i)) continue;
      Value& v = graph.values[static_cast<std::size_t>(id)];
      if (!v.constant || is_graph_output(graph, id) || consumers_of(graph, id).size() != 1)
        continue;
      Tensor shape_only;
      shape_only.type = v.constant->type;
      shape_only.shape = v.constant->shape;
      v.constant = std::move(shape_only);
    }
  }
}

}  // namespace mg::cpu
