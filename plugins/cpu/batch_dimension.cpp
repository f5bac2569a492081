#include "plugins/cpu/batch_dimension.h"

#include <algorithm>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

namespace mg::cpu {
namespace {

const std::unordered_set<std::string> kUnary = {"Abs",         "Cast",
                                                "Ceil",        "Celu",
                                                "Clip",        "Cos",
                                                "Dropout",     "Elu",
                                                "Erf",         "Exp",
                                                "Floor",       "Gelu",
                                                "HardSigmoid", "HardSwish",
                                                "Identity",    "IsInf",
                                                "IsNaN",       "LeakyRelu",
                                                "Log",         "Mish",
                                                "Neg",         "Not",
                                                "Reciprocal",  "Relu",
                                                "Round",       "Selu",
                                                "Sigmoid",     "Sign",
                                                "Sin",         "Softplus",
                                                "Softsign",    "Sqrt",
                                                "Tanh",        "ThresholdedRelu"};
const std::unordered_set<std::string> kElementwise = {
    "Add",  "And",         "BitShift", "Div",  "Equal", "Greater", "GreaterOrEqual",
    "Less", "LessOrEqual", "Max",      "Mean", "Min",   "Mod",     "Mul",
    "Or",   "Pow",         "PRelu",    "Sub",  "Sum",   "Where",   "Xor"};
// Ops on images of shape (N, C, …) whose first input is the batch and the rest weights.
const std::unordered_set<std::string> kPerImage = {"AveragePool",
                                                   "BatchNormalization",
                                                   "Conv",
                                                   "ConvTranspose",
                                                   "GlobalAveragePool",
                                                   "GlobalLpPool",
                                                   "GlobalMaxPool",
                                                   "InstanceNormalization",
                                                   "LRN",
                                                   "LpPool",
                                                   "MaxPool"};
const std::unordered_set<std::string> kReductions = {
    "ReduceL1",   "ReduceL2",  "ReduceLogSum", "ReduceLogSumExp", "ReduceMax",
    "ReduceMean", "ReduceMin", "ReduceProd",   "ReduceSum",       "ReduceSumSquare"};

class Analysis {
 public:
  explicit Analysis(const Graph& graph) : graph_(graph), batch_(graph.values.size(), false) {}

  bool run() {
    if (graph_.inputs.empty() || graph_.outputs.empty()) return false;
    for (int id : graph_.inputs) {
      if (!dynamic_rows(id)) return false;
      batch_[static_cast<std::size_t>(id)] = true;
    }
    for (const Node& node : graph_.nodes) {
      const bool reads_batch =
          std::any_of(node.inputs.begin(), node.inputs.end(), [&](int id) { return batch(id); });
      if (!reads_batch) continue;  // computed from constants: the same for every row
      if (!keeps_rows_apart(node)) return false;
      for (int id : node.outputs) {
        if (id >= 0) batch_[static_cast<std::size_t>(id)] = true;
      }
    }
    return std::all_of(graph_.outputs.begin(), graph_.outputs.end(),
                       [&](int id) { return batch(id) && dynamic_rows(id); });
  }

 private:
  bool batch(int id) const { return id >= 0 && batch_[static_cast<std::size_t>(id)]; }
  const Value* value(int id) const {
    return id >= 0 ? &graph_.values[static_cast<std::size_t>(id)] : nullptr;
  }
  // The rank, or -1 when unknown.
  int64_t rank(int id) const {
    const Value* v = value(id);
    return v && v->shape_known ? static_cast<int64_t>(v->shape.size()) : -1;
  }
  bool dynamic_rows(int id) const {
    const Value* v = value(id);
    return v && v->shape_known && !v->shape.empty() && v->shape[0] == -1;
  }
  // Input i's integer values when it is a constant: an initializer, or a Constant node's
  // (folded only later, by the optimizer).
  std::optional<std::vector<int64_t>> constant_ints(const Node& node, std::size_t i) const {
    if (i >= node.inputs.size() || node.inputs[i] < 0) return std::nullopt;
    const Value* v = value(node.inputs[i]);
    const Tensor* t = v->constant ? &*v->constant : nullptr;
    if (t == nullptr) {
      const Node* maker = producer_of(graph_, node.inputs[i]);
      const Attribute* made =
          maker && maker->op_type == "Constant" ? maker->attr("value") : nullptr;
      if (made != nullptr && made->kind == Attribute::Kind::kTensor) t = &made->t;
    }
    if (t == nullptr || (t->type != ElemType::kInt64 && t->type != ElemType::kInt32)) {
      return std::nullopt;
    }
    return t->ints();
  }
  // Whether only input 0 carries rows (the others are weights, bounds, shapes).
  bool only_first_is_batch(const Node& node) const {
    for (std::size_t i = 1; i < node.inputs.size(); ++i) {
      if (batch(node.inputs[i])) return false;
    }
    return !node.inputs.empty() && batch(node.inputs[0]);
  }
  // `axis` of a tensor of rank `r` made non-negative; -1 when out of range or r unknown.
  static int64_t normalized(int64_t axis, int64_t r) {
    if (r < 0) return -1;
    if (axis < 0) axis += r;
    return axis >= 0 && axis < r ? axis : -1;
  }
  // Whether every axis, normalized against rank r, is past 0.
  static bool spares_rows(const std::vector<int64_t>& axes, int64_t r) {
    return !axes.empty() &&
           std::all_of(axes.begin(), axes.end(), [&](int64_t a) { return normalized(a, r) >= 1; });
  }
  // The axes of a node that takes them as an attribute (older opsets) or as input i.
  std::optional<std::vector<int64_t>> axes_of(const Node& node, std::size_t i) const {
    if (node.attr("axes") != nullptr) return node.attr_ints("axes");
    return constant_ints(node, i);
  }

  bool keeps_rows_apart(const Node& node) const {
    if (!node.domain.empty() && node.domain != "ai.onnx") return false;
    const std::string& op = node.op_type;
    const int64_t r = rank(node.inputs[0]);
    if (kUnary.count(op)) return only_first_is_batch(node);
    if (kElementwise.count(op)) return broadcast_keeps_rows(node);
    if (kPerImage.count(op)) {
      // MaxPool's indices count across the whole batch; training-mode outputs mix rows.
      const bool extra_outputs =
          std::any_of(node.outputs.begin() + 1, node.outputs.end(), [](int id) { return id >= 0; });
      return only_first_is_batch(node) && !extra_outputs;
    }
    if (op == "Gemm") {
      // A's rows are the batch; B and C are weights, C at most one row.
      const int64_t c_rank = node.inputs.size() > 2 ? rank(node.inputs[2]) : 0;
      const bool c_one_row = c_rank >= 0 && (c_rank <= 1 || value(node.inputs[2])->shape[0] == 1);
      return only_first_is_batch(node) && node.attr_int("transA", 0) == 0 && c_one_row;
    }
    if (op == "MatMul") {
      const int a = node.inputs[0], b = node.inputs.size() > 1 ? node.inputs[1] : -1;
      if (batch(a) && !batch(b)) return rank(a) >= 2 && rank(b) >= 1 && rank(b) <= 2;
      // Both batched: a batched product along dimension 0, same rank, at least 3.
      return batch(a) && batch(b) && rank(a) >= 3 && rank(a) == rank(b);
    }
    if (op == "Flatten") {
      return only_first_is_batch(node) && normalized(node.attr_int("axis", 1), r) >= 1;
    }
    if (op == "Softmax" || op == "LogSoftmax" || op == "Hardmax") {
      const int64_t fallback = node.opset >= 13 ? -1 : 1;
      return only_first_is_batch(node) && normalized(node.attr_int("axis", fallback), r) >= 1;
    }
    if (op == "LayerNormalization") {
      return only_first_is_batch(node) && normalized(node.attr_int("axis", -1), r) >= 1;
    }
    if (op == "ArgMax" || op == "ArgMin") {
      return only_first_is_batch(node) && normalized(node.attr_int("axis", 0), r) >= 1;
    }
    if (op == "TopK") {
      return only_first_is_batch(node) && normalized(node.attr_int("axis", -1), r) >= 1;
    }
    if (kReductions.count(op)) {
      const auto axes = axes_of(node, 1);  // absent: every axis, the rows' included
      return only_first_is_batch(node) && axes && spares_rows(*axes, r);
    }
    if (op == "Transpose") {
      const auto perm = node.attr_ints("perm");
      return only_first_is_batch(node) && !perm.empty() && perm[0] == 0;
    }
    if (op == "Reshape") return reshape_keeps_rows(node);
    if (op == "Squeeze") {
      const auto axes = axes_of(node, 1);  // absent: every dimension of 1, a 1-row batch's too
      return only_first_is_batch(node) && axes && spares_rows(*axes, r);
    }
    if (op == "Unsqueeze") {
      const auto axes = axes_of(node, 1);
      const int64_t out_rank = axes && r >= 0 ? r + static_cast<int64_t>(axes->size()) : -1;
      return only_first_is_batch(node) && axes && spares_rows(*axes, out_rank);
    }
    if (op == "Concat") {
      const bool all_batch =
          std::all_of(node.inputs.begin(), node.inputs.end(), [&](int id) { return batch(id); });
      return all_batch && normalized(node.attr_int("axis", 0), r) >= 1;
    }
    if (op == "Split") {
      return only_first_is_batch(node) && normalized(node.attr_int("axis", 0), r) >= 1;
    }
    if (op == "Slice") {
      // Before opset 10 the axes are an attribute; after, input 3 (absent: 0, 1, …).
      const auto axes =
          node.opset < 10 ? std::optional(node.attr_ints("axes")) : constant_ints(node, 3);
      return only_first_is_batch(node) && axes && spares_rows(*axes, r);
    }
    if (op == "Gather") {
      const int data = node.inputs[0], indices = node.inputs.size() > 1 ? node.inputs[1] : -1;
      const int64_t axis = node.attr_int("axis", 0);
      // An embedding: a table of constants looked up by each row's ids (output: the ids'
      // shape, then the table's row).
      if (!batch(data) && batch(indices)) return normalized(axis, rank(data)) == 0;
      return batch(data) && !batch(indices) && normalized(axis, r) >= 1;
    }
    if (op == "Pad") {
      const auto pads =
          node.opset < 11 ? std::optional(node.attr_ints("pads")) : constant_ints(node, 1);
      // pads: every axis's start, then every axis's end; axis 0's must both be 0.
      return only_first_is_batch(node) && pads && r >= 1 &&
             pads->size() == static_cast<std::size_t>(2 * r) && (*pads)[0] == 0 &&
             (*pads)[static_cast<std::size_t>(r)] == 0 &&
             (node.opset < 18 || node.inputs.size() < 4 || node.inputs[3] < 0);
    }
    return false;  // unknown here: not proven to keep the rows apart
  }

  // Numpy broadcasting aligns dimensions from the right: an operand that carries rows keeps
  // them at the output's dimension 0 only at the output's full rank; an operand without
  // rows must not reach dimension 0, unless it is 1 there.
  bool broadcast_keeps_rows(const Node& node) const {
    int64_t out_rank = 0;
    for (int id : node.inputs) {
      if (id < 0) continue;
      if (rank(id) < 0) return false;
      out_rank = std::max(out_rank, rank(id));
    }
    for (int id : node.inputs) {
      if (id < 0) continue;
      if (batch(id) && rank(id) != out_rank) return false;
      if (!batch(id) && rank(id) == out_rank && value(id)->shape[0] != 1) return false;
    }
    return true;
  }

  // A Reshape keeps the rows when its shape copies dimension 0 (0, allowzero off) or
  // infers it (-1) from rows of a known, unchanged size.
  bool reshape_keeps_rows(const Node& node) const {
    const auto shape = constant_ints(node, 1);
    if (!only_first_is_batch(node) || !shape || shape->empty()) return false;
    if (node.attr_int("allowzero", 0) != 0) return false;
    const int64_t first = (*shape)[0];
    if (first == 0) return true;
    if (first != -1) return false;
    const Value* in = value(node.inputs[0]);
    if (!in->shape_known || in->shape.empty()) return false;
    int64_t row_in = 1, row_out = 1;
    for (std::size_t d = 1; d < in->shape.size(); ++d) {
      if (in->shape[d] < 0) return false;
      row_in *= in->shape[d];
    }
    for (std::size_t d = 1; d < shape->size(); ++d) {
      int64_t n = (*shape)[d];
      if (n == 0 && d < in->shape.size()) n = in->shape[d];
      if (n <= 0) return false;
      row_out *= n;
    }
    return row_in == row_out;
  }

  const Graph& graph_;
  std::vector<bool> batch_;  // per value: carries the batch in its dimension 0
};

}  // namespace

bool rows_are_independent(const Graph& graph) { return Analysis(graph).run(); }

}  // namespace mg::cpu
