#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "plugins/cpu/graph.h"
#include "plugins/cpu/tensor.h"

namespace mg::cpu {

// Element types an operator accepts on every input and output, as a bit mask.
constexpr uint32_t type_bit(ElemType t) { return 1u << static_cast<uint32_t>(t); }
inline constexpr uint32_t kFloats = type_bit(ElemType::kFloat) | type_bit(ElemType::kDouble);
inline constexpr uint32_t kIntegers = type_bit(ElemType::kInt32) | type_bit(ElemType::kInt64);
inline constexpr uint32_t kNumeric = kFloats | kIntegers;
inline constexpr uint32_t kBoolType = type_bit(ElemType::kBool);
inline constexpr uint32_t kAllTypes =
    kNumeric | kBoolType | type_bit(ElemType::kUint8) | type_bit(ElemType::kInt8);

// What a model's config asks of its kernels.
struct KernelOptions {
  // Winograd's algorithm for the 3×3 convolutions it fits: much faster (the seed CNN's
  // second conv: −44 % at batch 64), but their weights are held transformed as well, ~4×
  // their size: the model's config decides, or else its size (CpuModel::load,
  // winograd_default.h).
  bool conv_winograd = false;
  // The instance's kernel threads: a Conv splits one image's output rows among them, and
  // makes those bands' primitives at load.
  int threads = 1;
  // The largest batch the host forms (the config's max_batch_size; 0: it does not batch).
  // Kernels make at load what batches that large run on, and the rest when first needed.
  int64_t max_batch = 0;
};

// Makes a node's KernelState from the final graph (which tells, say, whether an input is
// a constant).
using PrepareFn = std::shared_ptr<KernelState> (*)(const Node&, const Graph&, const KernelOptions&);

// What a kernel does not implement among a node's attributes, inputs and outputs, found
// at load: "" when the node can run, else why not (listed with every other refusal).
using CheckFn = std::string (*)(const Node&);

struct OpInfo {
  KernelFn kernel = nullptr;
  uint32_t types = 0;  // accepted element types (index inputs such as axes are always ok)
  PrepareFn prepare = nullptr;
  CheckFn check = nullptr;
};

// The operators of the default ONNX domain the backend implements, opsets 7 to 17.
class OpTable {
 public:
  static const OpTable& instance();
  void add(const std::string& op_type, KernelFn kernel, uint32_t types,
           PrepareFn prepare = nullptr);
  void set_check(const std::string& op_type, CheckFn check);  // after add()
  const OpInfo* find(const std::string& op_type) const;

  static constexpr int kMinOpset = 7;
  static constexpr int kMaxOpset = 17;

 private:
  std::map<std::string, OpInfo> ops_;
};

// Gives every node whose operator has a PrepareFn its state. Runs once the optimizer is
// done with the graph.
void prepare_kernels(Graph& graph, const KernelOptions& options = {});

// Each kernel family registers its operators.
void register_elementwise(OpTable& table);
void register_activations(OpTable& table);
void register_math(OpTable& table);
void register_index_ops(OpTable& table);
void register_layout_ops(OpTable& table);
void register_recurrent(OpTable& table);
void register_conv_transpose(OpTable& table);
void register_resize(OpTable& table);
void register_einsum(OpTable& table);
void register_linalg(OpTable& table);
void register_conv(OpTable& table);
void register_pool(OpTable& table);
void register_normalization(OpTable& table);
void register_reduce(OpTable& table);
void register_shape_ops(OpTable& table);

}  // namespace mg::cpu
