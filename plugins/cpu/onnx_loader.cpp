#include "plugins/cpu/onnx_loader.h"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "plugins/cpu/cpu_error.h"
#include "plugins/cpu/kernels/kernels.h"

namespace mg::cpu {
namespace {

// Limits that keep a hostile file from making the loader allocate without bound.
constexpr int64_t kMaxTensorElements = int64_t{1} << 31;
constexpr int kMaxRank = 16;

[[noreturn]] void invalid(const std::string& why) { throw CpuError(CpuError::kInvalid, why); }
[[noreturn]] void unsupported(const std::string& why) {
  throw CpuError(CpuError::kUnsupported, why);
}

bool is_default_domain(const std::string& domain) { return domain.empty() || domain == "ai.onnx"; }

// Reads external data into raw_data, refusing any location outside the model's directory.
void inline_external_data(onnx::TensorProto& tensor, const std::string& model_path) {
  if (tensor.data_location() != onnx::TensorProto::EXTERNAL) return;
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto& entry : tensor.external_data()) {
    if (entry.key() == "location") location = entry.value();
    if (entry.key() == "offset") offset = std::stoll(entry.value());
    if (entry.key() == "length") length = std::stoll(entry.value());
  }
  const std::string what = "tensor '" + tensor.name() + "': external data";
  if (model_path.empty()) invalid(what + " needs the model's directory, and the model has none");
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path dir = fs::weakly_canonical(fs::path(model_path).parent_path(), ec);
  const fs::path file = fs::weakly_canonical(dir / location, ec);
  const std::string dir_text = dir.string() + "/";
  if (location.empty() || fs::path(location).is_absolute() || ec ||
      file.string().compare(0, dir_text.size(), dir_text) != 0) {
    invalid(what + " location '" + location + "' is outside the model's directory");
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) invalid(what + " file '" + location + "' cannot be read");
  const auto size = static_cast<int64_t>(fs::file_size(file, ec));
  if (ec || offset < 0 || offset > size) invalid(what + " offset is past the end of its file");
  if (length < 0) length = size - offset;
  if (length > size - offset) invalid(what + " length is past the end of its file");
  std::string data(static_cast<std::size_t>(length), '\0');
  in.seekg(offset);
  in.read(data.data(), length);
  tensor.set_raw_data(std::move(data));
  tensor.clear_external_data();
  tensor.set_data_location(onnx::TensorProto::DEFAULT);
}

ElemType elem_type_of(int32_t onnx_type) {
  auto t = static_cast<ElemType>(onnx_type);
  return elem_size(t) ? t : ElemType::kUndefined;
}

std::string onnx_type_name(int32_t onnx_type) {
  return onnx::TensorProto_DataType_Name(static_cast<onnx::TensorProto_DataType>(onnx_type));
}

template <typename Field, typename T>
void copy_field(const Field& field, Tensor& t) {
  auto* out = t.data<T>();
  for (int64_t i = 0; i < t.size(); ++i) out[i] = static_cast<T>(field.Get(static_cast<int>(i)));
}

}  // namespace

Tensor tensor_from_proto(const onnx::TensorProto& proto) {
  const std::string what = "tensor '" + proto.name() + "'";
  const ElemType type = elem_type_of(proto.data_type());
  if (type == ElemType::kUndefined) {
    unsupported(what + " has element type " + onnx_type_name(proto.data_type()) +
                ", which the cpu backend does not support");
  }
  if (proto.dims_size() > kMaxRank) invalid(what + " has too many dimensions");
  Shape shape;
  int64_t count = 1;
  for (int64_t d : proto.dims()) {
    if (d < 0 || (d > 0 && count > kMaxTensorElements / d)) {
      invalid(what + " declares absurd dimensions");
    }
    count *= d;
    shape.push_back(d);
  }
  if (proto.has_segment()) unsupported(what + " is segmented");
  const std::size_t bytes = static_cast<std::size_t>(count) * elem_size(type);
  // Check the data size before allocating anything for it.
  int64_t available;
  if (proto.has_raw_data()) {
    available = static_cast<int64_t>(proto.raw_data().size() / elem_size(type));
    if (proto.raw_data().size() != bytes) {
      invalid(what + " holds " + std::to_string(proto.raw_data().size()) + " bytes for shape " +
              shape_text(shape) + ", expected " + std::to_string(bytes));
    }
  } else {
    switch (type) {
      case ElemType::kFloat:
        available = proto.float_data_size();
        break;
      case ElemType::kDouble:
        available = proto.double_data_size();
        break;
      case ElemType::kInt64:
        available = proto.int64_data_size();
        break;
      default:
        available = proto.int32_data_size();
    }
    if (available != count) {
      invalid(what + " holds " + std::to_string(available) + " values for shape " +
              shape_text(shape));
    }
  }
  Tensor t = Tensor::owned(type, shape);
  if (proto.has_raw_data()) {
    std::memcpy(t.bytes, proto.raw_data().data(), bytes);
    return t;
  }
  switch (type) {
    case ElemType::kFloat:
      copy_field<decltype(proto.float_data()), float>(proto.float_data(), t);
      break;
    case ElemType::kDouble:
      copy_field<decltype(proto.double_data()), double>(proto.double_data(), t);
      break;
    case ElemType::kInt64:
      copy_field<decltype(proto.int64_data()), int64_t>(proto.int64_data(), t);
      break;
    case ElemType::kInt32:
      copy_field<decltype(proto.int32_data()), int32_t>(proto.int32_data(), t);
      break;
    case ElemType::kInt8:
      copy_field<decltype(proto.int32_data()), int8_t>(proto.int32_data(), t);
      break;
    case ElemType::kUint8:
      copy_field<decltype(proto.int32_data()), uint8_t>(proto.int32_data(), t);
      break;
    case ElemType::kBool:
      copy_field<decltype(proto.int32_data()), bool>(proto.int32_data(), t);
      break;
    default:
      break;
  }
  return t;
}

namespace {

// A node's name, or "<op_type>#<index>" (its position in the graph) when it has none.
std::string node_name(const onnx::NodeProto& node, int index) {
  return node.name().empty() ? node.op_type() + "#" + std::to_string(index) : node.name();
}

Attribute attribute_from_proto(const onnx::AttributeProto& proto, const std::string& where) {
  Attribute a;
  a.name = proto.name();
  switch (proto.type()) {
    case onnx::AttributeProto::INT:
      a.kind = Attribute::Kind::kInt;
      a.i = proto.i();
      break;
    case onnx::AttributeProto::FLOAT:
      a.kind = Attribute::Kind::kFloat;
      a.f = proto.f();
      break;
    case onnx::AttributeProto::STRING:
      a.kind = Attribute::Kind::kString;
      a.s = proto.s();
      break;
    case onnx::AttributeProto::INTS:
      a.kind = Attribute::Kind::kInts;
      a.ints.assign(proto.ints().begin(), proto.ints().end());
      break;
    case onnx::AttributeProto::FLOATS:
      a.kind = Attribute::Kind::kFloats;
      a.floats.assign(proto.floats().begin(), proto.floats().end());
      break;
    case onnx::AttributeProto::STRINGS:
      a.kind = Attribute::Kind::kStrings;
      a.strings.assign(proto.strings().begin(), proto.strings().end());
      break;
    case onnx::AttributeProto::TENSOR:
      a.kind = Attribute::Kind::kTensor;
      a.t = tensor_from_proto(proto.t());
      break;
    default:
      unsupported(where + ": attribute '" + proto.name() +
                  "' has a type the cpu backend does not support");
  }
  return a;
}

// Constant's value_* attributes become one tensor attribute "value".
void normalize_constant(Node& node) {
  Attribute value;
  value.name = "value";
  value.kind = Attribute::Kind::kTensor;
  for (const auto& a : node.attributes) {
    if (a.name == "value") return;
    if (a.name == "value_float") {
      value.t = Tensor::owned(ElemType::kFloat, {});
      *value.t.data<float>() = a.f;
    } else if (a.name == "value_floats") {
      value.t = Tensor::owned(ElemType::kFloat, {static_cast<int64_t>(a.floats.size())});
      std::copy(a.floats.begin(), a.floats.end(), value.t.data<float>());
    } else if (a.name == "value_int") {
      value.t = Tensor::owned(ElemType::kInt64, {});
      *value.t.data<int64_t>() = a.i;
    } else if (a.name == "value_ints") {
      value.t = Tensor::owned(ElemType::kInt64, {static_cast<int64_t>(a.ints.size())});
      std::copy(a.ints.begin(), a.ints.end(), value.t.data<int64_t>());
    } else {
      unsupported(node.where() + ": Constant with attribute '" + a.name + "' is not supported");
    }
  }
  node.attributes.push_back(std::move(value));
}

void record_value_info(Graph& graph, const std::map<std::string, int>& ids,
                       const onnx::ValueInfoProto& info) {
  auto it = ids.find(info.name());
  if (it == ids.end()) return;
  if (!info.type().has_tensor_type()) {
    unsupported("value '" + info.name() +
                "' is not a tensor (sequence, map and optional types are not supported)");
  }
  Value& v = graph.values[static_cast<std::size_t>(it->second)];
  const auto& tensor = info.type().tensor_type();
  if (tensor.elem_type() != 0) {
    ElemType type = elem_type_of(tensor.elem_type());
    if (type == ElemType::kUndefined) {
      unsupported("value '" + info.name() + "' has element type " +
                  onnx_type_name(tensor.elem_type()) + ", which the cpu backend does not support");
    }
    v.type = type;
  }
  if (tensor.has_shape()) {
    v.shape_known = true;
    v.shape.clear();
    for (const auto& dim : tensor.shape().dim()) {
      v.shape.push_back(dim.has_dim_value() ? dim.dim_value() : -1);
    }
  }
}

// The backend runs inference only: training-mode variants are refused at load.
void check_inference_only(const Graph& graph) {
  for (const Node& node : graph.nodes) {
    bool training = false;
    if (node.op_type == "BatchNormalization") {
      training = node.attr_int("training_mode", 0) != 0;
      for (std::size_t i = 1; i < node.outputs.size(); ++i) training |= node.outputs[i] >= 0;
    } else if (node.op_type == "Dropout" && node.inputs.size() > 2 && node.inputs[2] >= 0) {
      const Value& mode = graph.values[static_cast<std::size_t>(node.inputs[2])];
      training = !mode.constant || mode.constant->size() != 1 || mode.constant->data<bool>()[0];
    } else if (node.op_type == "MaxPool") {
      training = node.outputs.size() > 1 && node.outputs[1] >= 0;
      if (training) unsupported(node.where() + ": the Indices output of MaxPool is not supported");
    }
    if (training) unsupported(node.where() + ": training mode is not supported (inference only)");
  }
}

// Orders nodes so every input is produced before use; names what breaks that.
void sort_topologically(Graph& graph, std::vector<bool> available) {
  std::vector<Node> sorted;
  std::vector<bool> placed(graph.nodes.size(), false);
  bool progress = true;
  while (sorted.size() < graph.nodes.size() && progress) {
    progress = false;
    for (std::size_t i = 0; i < graph.nodes.size(); ++i) {
      if (placed[i]) continue;
      bool ready = true;
      for (int in : graph.nodes[i].inputs)
        ready = ready && (in < 0 || available[static_cast<std::size_t>(in)]);
      if (!ready) continue;
      for (int out : graph.nodes[i].outputs) {
        if (out >= 0) available[static_cast<std::size_t>(out)] = true;
      }
      placed[i] = true;
      sorted.push_back(std::move(graph.nodes[i]));
      progress = true;
    }
  }
  if (sorted.size() < graph.nodes.size()) {
    for (std::size_t i = 0; i < graph.nodes.size(); ++i) {
      if (placed[i]) continue;
      const Node& node = graph.nodes[i];
      for (int in : node.inputs) {
        if (in < 0 || available[static_cast<std::size_t>(in)]) continue;
        bool produced = false;
        for (const Node& other : graph.nodes) {
          for (int out : other.outputs) produced = produced || out == in;
        }
        if (!produced) {
          invalid(node.where() + " uses '" + graph.values[static_cast<std::size_t>(in)].name +
                  "', which no node, graph input or initializer provides");
        }
      }
      invalid("the graph has a cycle through " + node.where());
    }
  }
  graph.nodes = std::move(sorted);
}

// ONNX's own shape inference divides by strides, dilations and group without checking
// them (a Conv with strides [0, 2] kills the process with SIGFPE inside libonnx, found by
// onnx_load_fuzzer), so the loader refuses such attributes before it runs.
void check_window_attributes(const onnx::GraphProto& graph) {
  int index = 0;
  for (const auto& node : graph.node()) {
    const std::string where = "node '" + node_name(node, index) + "' (" + node.op_type() + ")";
    ++index;
    for (const auto& attribute : node.attribute()) {
      const std::string& name = attribute.name();
      const bool positive = name == "strides" || name == "dilations" || name == "kernel_shape";
      // (Pad's own `pads` attribute, opsets before 11, may be negative: it crops.)
      if (positive || (name == "pads" && node.op_type() != "Pad")) {
        for (const auto value : attribute.ints()) {
          if (value < (positive ? 1 : 0) || value > (int64_t{1} << 31)) {
            invalid(where + ": attribute " + name + " has the value " + std::to_string(value) +
                    (positive ? "; it must be positive" : "; it must not be negative"));
          }
        }
      }
      if (name == "group" && (attribute.i() < 1 || attribute.i() > (int64_t{1} << 31))) {
        invalid(where + ": attribute group is " + std::to_string(attribute.i()) +
                "; it must be positive");
      }
    }
  }
}

// ONNX's convolution and pooling shape inference (convPoolShapeInference) indexes the
// kernel, strides, dilations and pads by X's spatial rank without checking the lengths it
// was given: a Conv whose W has rank 2 for a rank-4 X and no kernel_shape reads past the
// end and crashes inside libonnx (found by onnx_load_fuzzer). Where the ranks are declared
// (graph inputs, initializers, value_info), the loader refuses such nodes first.
void check_window_ranks(const onnx::GraphProto& graph) {
  std::unordered_map<std::string, int> ranks;
  auto declare = [&](const onnx::ValueInfoProto& value) {
    if (value.type().has_tensor_type() && value.type().tensor_type().has_shape()) {
      ranks[value.name()] = value.type().tensor_type().shape().dim_size();
    }
  };
  for (const auto& value : graph.input()) declare(value);
  for (const auto& value : graph.value_info()) declare(value);
  for (const auto& tensor : graph.initializer()) ranks[tensor.name()] = tensor.dims_size();
  auto rank_of = [&](const onnx::NodeProto& node, int input) {
    if (node.input_size() <= input) return -1;
    auto it = ranks.find(node.input(input));
    return it == ranks.end() ? -1 : it->second;
  };
  int index = 0;
  for (const auto& node : graph.node()) {
    const std::string& op = node.op_type();
    const bool conv = op == "Conv" || op == "ConvTranspose" || op == "ConvInteger";
    const bool pool = op == "MaxPool" || op == "AveragePool" || op == "LpPool";
    const std::string where = "node '" + node_name(node, index) + "' (" + op + ")";
    ++index;
    if (!conv && !pool) continue;
    const int x_rank = rank_of(node, 0);
    if (x_rank < 0) continue;
    if (x_rank < 3)
      invalid(where + ": X has rank " + std::to_string(x_rank) + ", at least 3 needed");
    const int spatial = x_rank - 2;
    if (conv) {
      const int w_rank = rank_of(node, 1);
      if (w_rank >= 0 && w_rank != x_rank) {
        invalid(where + ": W has rank " + std::to_string(w_rank) + " but X has rank " +
                std::to_string(x_rank));
      }
    }
    bool has_kernel = false;
    for (const auto& attribute : node.attribute()) {
      const std::string& name = attribute.name();
      const int wanted = name == "pads" ? 2 * spatial : spatial;
      if ((name == "kernel_shape" || name == "strides" || name == "dilations" || name == "pads") &&
          attribute.ints_size() != wanted) {
        invalid(where + ": attribute " + name + " has " + std::to_string(attribute.ints_size()) +
                " values; X's " + std::to_string(spatial) + " spatial dimensions need " +
                std::to_string(wanted));
      }
      has_kernel = has_kernel || name == "kernel_shape";
    }
    if (pool && !has_kernel) invalid(where + ": attribute kernel_shape is required");
  }
}

// The operators the table lacks, each once with its domain and opset, the number of
// nodes using it and the first one; then the nodes whose operator is known but whose
// attributes or outputs its kernel refuses (OpInfo::check). One MG_ERROR_UNSUPPORTED
// naming all of them, or nothing.
void refuse_unsupported_nodes(const onnx::GraphProto& graph,
                              const std::unordered_map<std::string, int>& opsets, int opset) {
  struct Missing {
    std::string domain;
    int version = 0;
    int nodes = 0;
    std::string first;
  };
  std::vector<std::pair<std::string, Missing>> missing;  // in order of first use
  std::vector<std::string> refused;
  const OpTable& ops = OpTable::instance();
  int index = 0;
  for (const auto& proto : graph.node()) {
    std::string name = node_name(proto, index);
    ++index;
    const OpInfo* op = is_default_domain(proto.domain()) ? ops.find(proto.op_type()) : nullptr;
    if (op == nullptr) {
      const std::string domain = proto.domain().empty() ? "ai.onnx" : proto.domain();
      const std::string key = domain + "/" + proto.op_type();
      auto it = std::find_if(missing.begin(), missing.end(),
                             [&](const auto& m) { return m.first == key; });
      if (it == missing.end()) {
        auto version = opsets.find(proto.domain());
        missing.push_back(
            {key, Missing{domain, version == opsets.end() ? opset : version->second, 0, name}});
        it = std::prev(missing.end());
      }
      ++it->second.nodes;
      continue;
    }
    if (op->check == nullptr) continue;
    Node node;
    node.name = name;
    node.op_type = proto.op_type();
    node.opset = opset;
    for (const auto& out : proto.output()) node.outputs.push_back(out.empty() ? -1 : 0);
    for (const auto& in : proto.input()) node.inputs.push_back(in.empty() ? -1 : 0);
    try {
      for (const auto& attribute : proto.attribute()) {
        node.attributes.push_back(attribute_from_proto(attribute, node.where()));
      }
    } catch (const CpuError&) {
      continue;  // an attribute the loader cannot read: reported when the graph is built
    }
    if (std::string why = op->check(node); !why.empty())
      refused.push_back(node.where() + ": " + why);
  }
  if (missing.empty() && refused.empty()) return;
  std::string message;
  if (!missing.empty()) {
    message = missing.size() == 1
                  ? "unsupported operator "
                  : "unsupported operators (" + std::to_string(missing.size()) + "): ";
    for (std::size_t i = 0; i < missing.size(); ++i) {
      const std::string op = missing[i].first.substr(missing[i].first.find('/') + 1);
      const Missing& m = missing[i].second;
      if (i > 0) message += "; ";
      message += op + " (domain " + m.domain + ", opset " + std::to_string(m.version) + ") at " +
                 (m.nodes == 1 ? "node '" + m.first + "'"
                               : std::to_string(m.nodes) + " nodes, first '" + m.first + "'");
    }
  }
  if (!refused.empty()) {
    if (!message.empty()) message += "; and ";
    message += refused.size() == 1
                   ? "unsupported attributes or outputs at "
                   : "unsupported attributes or outputs (" + std::to_string(refused.size()) + "): ";
    for (std::size_t i = 0; i < refused.size(); ++i) message += (i > 0 ? "; " : "") + refused[i];
  }
  unsupported(message);
}

}  // namespace

Graph load_onnx(std::span<const std::byte> bytes, const std::string& path) {
  if (bytes.size() > (std::size_t{2} << 30) - 1) invalid("the model is larger than 2 GiB");
  onnx::ModelProto model;
  if (!model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    invalid("not an ONNX model: the protobuf does not parse (truncated or not ONNX)");
  }
  if (!model.has_graph()) invalid("not an ONNX model: it has no graph");
  std::unordered_map<std::string, int> opsets;
  for (const auto& import : model.opset_import()) {
    opsets[import.domain().empty() ? "" : import.domain()] = static_cast<int>(import.version());
  }
  const int opset =
      opsets.count("") ? opsets[""] : (opsets.count("ai.onnx") ? opsets["ai.onnx"] : 0);
  if (opset < OpTable::kMinOpset || opset > OpTable::kMaxOpset) {
    unsupported("the model imports opset " + std::to_string(opset) +
                " of the default domain; the cpu backend supports 7 to 17");
  }
  // Operators first, so an unsupported one is reported as such, not as a checker error;
  // every missing operator and every refused attribute at once, so a user learns how far
  // the model is from running.
  refuse_unsupported_nodes(model.graph(), opsets, opset);
  for (auto& tensor : *model.mutable_graph()->mutable_initializer()) {
    inline_external_data(tensor, path);
  }
  for (auto& node : *model.mutable_graph()->mutable_node()) {
    for (auto& attribute : *node.mutable_attribute()) {
      if (attribute.has_t()) inline_external_data(*attribute.mutable_t(), path);
    }
  }
  check_window_attributes(model.graph());
  check_window_ranks(model.graph());
  try {
    onnx::checker::check_model(model);
    onnx::ShapeInferenceOptions options{true, 1, false};
    onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(), options);
  } catch (const std::exception& e) {
    invalid(std::string("the ONNX checker refused the model: ") + e.what());
  }

  const OpTable& ops = OpTable::instance();
  const onnx::GraphProto& g = model.graph();
  Graph graph;
  std::map<std::string, int> ids;
  auto id_of = [&](const std::string& name) {
    auto [it, inserted] = ids.emplace(name, static_cast<int>(graph.values.size()));
    if (inserted) graph.values.push_back(Value{name});
    return it->second;
  };
  std::set<std::string> initializers;
  for (const auto& init : g.initializer()) {
    int id = id_of(init.name());
    Value& v = graph.values[static_cast<std::size_t>(id)];
    v.constant = tensor_from_proto(init);
    v.type = v.constant->type;
    v.shape = v.constant->shape;
    v.shape_known = true;
    initializers.insert(init.name());
  }
  for (const auto& input : g.input()) {
    int id = id_of(input.name());
    if (!initializers.count(input.name())) graph.inputs.push_back(id);
    record_value_info(graph, ids, input);
    if (!initializers.count(input.name())) {
      Value& v = graph.values[static_cast<std::size_t>(id)];
      if (v.type == ElemType::kUndefined) invalid("graph input '" + input.name() + "' has no type");
      if (!v.shape_known) invalid("graph input '" + input.name() + "' has no shape");
    }
  }
  int index = 0;
  for (const auto& proto : g.node()) {
    Node node;
    node.name = node_name(proto, index);
    ++index;
    node.op_type = proto.op_type();
    node.domain = proto.domain();
    node.opset = opset;
    node.kernel = ops.find(node.op_type)->kernel;
    for (const auto& in : proto.input()) node.inputs.push_back(in.empty() ? -1 : id_of(in));
    for (const auto& out : proto.output()) node.outputs.push_back(out.empty() ? -1 : id_of(out));
    for (const auto& attribute : proto.attribute()) {
      node.attributes.push_back(attribute_from_proto(attribute, node.where()));
    }
    if (node.op_type == "Constant") normalize_constant(node);
    graph.nodes.push_back(std::move(node));
  }
  for (const auto& info : g.value_info()) record_value_info(graph, ids, info);
  for (const auto& output : g.output()) {
    if (!ids.count(output.name()))
      invalid("graph output '" + output.name() + "' is never produced");
    graph.outputs.push_back(ids.at(output.name()));
    record_value_info(graph, ids, output);
  }
  // Types the operators accept: every refusal at once.
  std::string refused_types;
  for (const Node& node : graph.nodes) {
    const uint32_t accepted = ops.find(node.op_type)->types;
    for (int id : node.outputs) {
      if (id < 0) continue;
      ElemType type = graph.values[static_cast<std::size_t>(id)].type;
      if (type != ElemType::kUndefined && !(accepted & type_bit(type))) {
        refused_types += (refused_types.empty() ? "" : "; ") +
                         std::string("unsupported operator ") + node.op_type +
                         " (domain ai.onnx, opset " + std::to_string(opset) +
                         ") for element type " + elem_name(type) + " at node '" + node.name + "'";
        break;
      }
    }
  }
  if (!refused_types.empty()) unsupported(refused_types);
  check_inference_only(graph);
  std::vector<bool> available(graph.values.size(), false);
  for (std::size_t i = 0; i < graph.values.size(); ++i)
    available[i] = graph.values[i].constant.has_value();
  for (int id : graph.inputs) available[static_cast<std::size_t>(id)] = true;
  sort_topologically(graph, std::move(available));
  return graph;
}

}  // namespace mg::cpu
