#include "gateway/grpc/grpc_calls.h"

#include <grpc_service.pb.h>

#include <boost/json.hpp>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <limits>

#include "gateway/plugin_host/dtype.h"
#include "proto/infer_parameter_json.h"
#include "registry/sha256.h"

namespace mg::gateway {
namespace {

namespace json = boost::json;
namespace pb = inference;

constexpr std::string_view kServicePrefix = "/inference.GRPCInferenceService/";

// grpc::StatusCode values (grpc/impl/codegen/status_code_enum.h), kept here so that this
// file needs protobuf only.
enum Code : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kUnauthenticated = 16,
};

CallStatus invalid(const std::string& message) {
  return {kInvalidArgument, "bad_request: " + message, {{"mg-error-code", "bad_request"}}};
}

// A path segment as it may appear in a target: anything but unreserved characters is
// percent-encoded, so a name can never reach another route (it is then simply not found).
std::string segment(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string model_path(const std::string& name, const std::string& version) {
  std::string path = "/v2/models/" + segment(name);
  if (!version.empty()) path += "/versions/" + segment(version);
  return path;
}

json::value parameter_value(const pb::InferParameter& p) {
  switch (p.parameter_choice_case()) {
    case pb::InferParameter::kBoolParam:
      return p.bool_param();
    case pb::InferParameter::kInt64Param:
      return p.int64_param();
    case pb::InferParameter::kStringParam:
      return json::string(p.string_param());
    case pb::InferParameter::kDoubleParam:
      return p.double_param();
    case pb::InferParameter::kUint64Param:
      return p.uint64_param();
    default:
      return nullptr;
  }
}

template <class Map>
json::object parameters_of(const Map& map) {
  json::object out;
  for (const auto& [key, value] : map) out[key] = parameter_value(value);
  return out;
}

// The number of elements of `shape`, or -1 when a dimension is negative or the product
// passes 2^40 (far beyond any body the server accepts).
int64_t element_count(const google::protobuf::RepeatedField<int64_t>& shape) {
  int64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0 || (d > 0 && count > (int64_t{1} << 40) / d)) return -1;
    count *= d;
  }
  return count;
}

template <class T, class Source>
void append_as(std::string& out, const Source& values) {
  const std::size_t at = out.size();
  out.resize(at + values.size() * sizeof(T));
  char* p = out.data() + at;
  for (const auto& v : values) {
    const T t = static_cast<T>(v);
    std::memcpy(p, &t, sizeof(T));
    p += sizeof(T);
  }
}

template <class T, class Source>
bool fits(const Source& values) {
  for (const auto& v : values) {
    if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max()) return false;
  }
  return true;
}

// An input's typed contents as the bytes of the binary tensor extension (little-endian
// elements; BYTES as 4-byte length-prefixed elements). Empty string and a refusal when the
// contents are not of the datatype or not as many as the shape holds.
CallStatus raw_of_contents(const pb::ModelInferRequest::InferInputTensor& input, DType dtype,
                           int64_t count, std::string& out) {
  const pb::InferTensorContents& c = input.contents();
  const std::string what = "input '" + input.name() + "'";
  auto check_count = [&](int64_t given, const char* field) -> CallStatus {
    if (given != count) {
      return invalid(what + ": " + std::to_string(given) + " " + field + " for shape of " +
                     std::to_string(count) + " elements");
    }
    return {};
  };
  CallStatus status;
  switch (dtype) {
    case DType::kBool:
      if (!(status = check_count(c.bool_contents_size(), "bool_contents")).ok()) return status;
      append_as<uint8_t>(out, c.bool_contents());
      return {};
    case DType::kInt8:
    case DType::kInt16:
    case DType::kInt32:
      if (!(status = check_count(c.int_contents_size(), "int_contents")).ok()) return status;
      if ((dtype == DType::kInt8 && !fits<int8_t>(c.int_contents())) ||
          (dtype == DType::kInt16 && !fits<int16_t>(c.int_contents()))) {
        return invalid(what + ": an int_contents value is out of range for " +
                       std::string(dtype_name(dtype)));
      }
      if (dtype == DType::kInt8) append_as<int8_t>(out, c.int_contents());
      if (dtype == DType::kInt16) append_as<int16_t>(out, c.int_contents());
      if (dtype == DType::kInt32) append_as<int32_t>(out, c.int_contents());
      return {};
    case DType::kInt64:
      if (!(status = check_count(c.int64_contents_size(), "int64_contents")).ok()) return status;
      append_as<int64_t>(out, c.int64_contents());
      return {};
    case DType::kUint8:
    case DType::kUint16:
    case DType::kUint32:
      if (!(status = check_count(c.uint_contents_size(), "uint_contents")).ok()) return status;
      if ((dtype == DType::kUint8 && !fits<uint8_t>(c.uint_contents())) ||
          (dtype == DType::kUint16 && !fits<uint16_t>(c.uint_contents()))) {
        return invalid(what + ": a uint_contents value is out of range for " +
                       std::string(dtype_name(dtype)));
      }
      if (dtype == DType::kUint8) append_as<uint8_t>(out, c.uint_contents());
      if (dtype == DType::kUint16) append_as<uint16_t>(out, c.uint_contents());
      if (dtype == DType::kUint32) append_as<uint32_t>(out, c.uint_contents());
      return {};
    case DType::kUint64:
      if (!(status = check_count(c.uint64_contents_size(), "uint64_contents")).ok()) return status;
      append_as<uint64_t>(out, c.uint64_contents());
      return {};
    case DType::kFp32:
      if (!(status = check_count(c.fp32_contents_size(), "fp32_contents")).ok()) return status;
      append_as<float>(out, c.fp32_contents());
      return {};
    case DType::kFp64:
      if (!(status = check_count(c.fp64_contents_size(), "fp64_contents")).ok()) return status;
      append_as<double>(out, c.fp64_contents());
      return {};
    case DType::kBytes:
      if (!(status = check_count(c.bytes_contents_size(), "bytes_contents")).ok()) return status;
      for (const std::string& element : c.bytes_contents()) {
        const auto length = static_cast<uint32_t>(element.size());
        out.append(reinterpret_cast<const char*>(&length), 4);
        out += element;
      }
      return {};
    default:
      return invalid(what + ": " + std::string(dtype_name(dtype)) +
                     " has no typed contents field; send it in raw_input_contents");
  }
}

// ModelInfer as POST …/infer with the binary tensor extension: a JSON header (the
// inputs with binary_data_size, every output asked for as binary), then every input's
// bytes in order.
CallStatus infer_request(const pb::ModelInferRequest& call, HttpRequest& request) {
  const bool raw = call.raw_input_contents_size() > 0;
  if (raw && call.raw_input_contents_size() != call.inputs_size()) {
    return invalid(std::to_string(call.raw_input_contents_size()) + " raw_input_contents for " +
                   std::to_string(call.inputs_size()) + " inputs");
  }
  json::object header;
  if (!call.id().empty()) header["id"] = call.id();
  json::object parameters = parameters_of(call.parameters());
  parameters["binary_data_output"] = true;
  header["parameters"] = std::move(parameters);
  json::array inputs;
  std::string tensors;
  for (int i = 0; i < call.inputs_size(); ++i) {
    const auto& input = call.inputs(i);
    json::array shape;
    for (int64_t d : input.shape()) shape.emplace_back(d);
    std::string bytes;
    if (raw) {
      if (input.has_contents()) {
        return invalid("input '" + input.name() +
                       "' has contents, but the request sends raw_input_contents");
      }
      bytes = call.raw_input_contents(i);
    } else {
      // The datatype and shape are checked by the router as for HTTP; here only what the
      // typed contents need.
      const auto dtype = dtype_from_name(input.datatype());
      if (!dtype) {
        return invalid("input '" + input.name() + "': unknown datatype '" + input.datatype() + "'");
      }
      const int64_t count = element_count(input.shape());
      if (count < 0) return invalid("input '" + input.name() + "': invalid shape");
      if (CallStatus refused = raw_of_contents(input, *dtype, count, bytes); !refused.ok())
        return refused;
    }
    json::object parameters = parameters_of(input.parameters());
    parameters["binary_data_size"] = bytes.size();
    inputs.emplace_back(json::object{{"name", input.name()},
                                     {"datatype", input.datatype()},
                                     {"shape", std::move(shape)},
                                     {"parameters", std::move(parameters)}});
    tensors += bytes;
  }
  header["inputs"] = std::move(inputs);
  if (call.outputs_size() > 0) {
    json::array outputs;
    for (const auto& output : call.outputs()) {
      json::object parameters = parameters_of(output.parameters());
      parameters["binary_data"] = true;
      outputs.emplace_back(
          json::object{{"name", output.name()}, {"parameters", std::move(parameters)}});
    }
    header["outputs"] = std::move(outputs);
  }
  request.method = "POST";
  request.target = model_path(call.model_name(), call.model_version()) + "/infer";
  request.body = json::serialize(header);
  request.headers.emplace_back("Inference-Header-Content-Length",
                               std::to_string(request.body.size()));
  request.headers.emplace_back("Content-Type", "application/octet-stream");
  request.body += tensors;
  return {};
}

template <class Message>
bool parse(std::string_view bytes, Message& message) {
  return message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

// The JSON part of a response (all of it, or the header of the binary extension) and
// the binary part after it.
struct Body {
  json::value header;
  std::string_view binary;
};
bool body_of(const HttpResponse& response, Body& out) {
  std::string_view body = response.body;
  std::size_t json_size = body.size();
  for (const auto& [name, value] : response.headers) {
    if (name == "Inference-Header-Content-Length" &&
        std::from_chars(value.data(), value.data() + value.size(), json_size).ec != std::errc()) {
      return false;
    }
  }
  if (json_size > body.size()) return false;
  boost::system::error_code error;
  out.header = json::parse(body.substr(0, json_size), error);
  out.binary = body.substr(json_size);
  return !error;
}

using mg::proto::set_parameter;

std::string string_at(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

CallStatus internal(const std::string& why) {
  return {kInternal, "internal: " + why, {{"mg-error-code", "internal"}}};
}

// An infer answer of the binary extension as a ModelInferResponse (raw_output_contents).
CallStatus infer_response(const HttpResponse& response, pb::ModelInferResponse& out) {
  Body body;
  if (!body_of(response, body) || !body.header.is_object())
    return internal("the inference answer could not be read");
  const json::object& header = body.header.as_object();
  out.set_model_name(string_at(header, "model_name"));
  out.set_model_version(string_at(header, "model_version"));
  out.set_id(string_at(header, "id"));
  if (const auto* p = header.if_contains("parameters"); p && p->is_object()) {
    for (const auto& [key, value] : p->as_object())
      set_parameter((*out.mutable_parameters())[std::string(key)], value);
  }
  std::size_t at = 0;
  const json::value* outputs = header.if_contains("outputs");
  if (outputs == nullptr || !outputs->is_array()) return internal("the answer has no outputs");
  for (const json::value& item : outputs->as_array()) {
    if (!item.is_object()) return internal("an output is not an object");
    const json::object& o = item.as_object();
    auto* tensor = out.add_outputs();
    tensor->set_name(string_at(o, "name"));
    tensor->set_datatype(string_at(o, "datatype"));
    if (const auto* shape = o.if_contains("shape"); shape && shape->is_array()) {
      for (const json::value& d : shape->as_array()) tensor->add_shape(d.to_number<int64_t>());
    }
    uint64_t size = 0;
    if (const auto* p = o.if_contains("parameters"); p && p->is_object()) {
      for (const auto& [key, value] : p->as_object()) {
        if (key == "binary_data_size") {
          size = value.to_number<uint64_t>();
        } else {
          set_parameter((*tensor->mutable_parameters())[std::string(key)], value);
        }
      }
    }
    if (size > body.binary.size() - at) return internal("an output's bytes are missing");
    out.add_raw_output_contents(std::string(body.binary.substr(at, size)));
    at += size;
  }
  return {};
}

CallStatus metadata_response(const HttpResponse& response, pb::ModelMetadataResponse& out) {
  Body body;
  if (!body_of(response, body) || !body.header.is_object())
    return internal("the metadata could not be read");
  const json::object& o = body.header.as_object();
  out.set_name(string_at(o, "name"));
  out.set_platform(string_at(o, "platform"));
  if (const auto* v = o.if_contains("versions"); v && v->is_array()) {
    for (const json::value& version : v->as_array())
      if (version.is_string()) out.add_versions(std::string(version.as_string()));
  }
  for (const char* side : {"inputs", "outputs"}) {
    const json::value* tensors = o.if_contains(side);
    if (tensors == nullptr || !tensors->is_array()) continue;
    for (const json::value& t : tensors->as_array()) {
      if (!t.is_object()) continue;
      auto* meta = std::string_view(side) == "inputs" ? out.add_inputs() : out.add_outputs();
      meta->set_name(string_at(t.as_object(), "name"));
      meta->set_datatype(string_at(t.as_object(), "datatype"));
      if (const auto* shape = t.as_object().if_contains("shape"); shape && shape->is_array()) {
        for (const json::value& d : shape->as_array()) meta->add_shape(d.to_number<int64_t>());
      }
    }
  }
  return {};
}

uint64_t count_at(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return 0;
  if (v->is_uint64()) return v->as_uint64();
  if (v->is_int64() && v->as_int64() >= 0) return static_cast<uint64_t>(v->as_int64());
  return 0;
}

void set_duration(pb::StatisticDuration& out, const json::object& parent, std::string_view key) {
  const json::value* v = parent.if_contains(key);
  if (v == nullptr || !v->is_object()) return;
  out.set_count(count_at(v->as_object(), "count"));
  out.set_ns(count_at(v->as_object(), "ns"));
}

int64_t integer_at(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return 0;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  return 0;
}

// The tensors of a configuration ({"name", "data_type": "TYPE_FP32", "dims"}).
template <class Add>
void config_tensors(const json::object& config, std::string_view side, Add add) {
  const json::value* tensors = config.if_contains(side);
  if (tensors == nullptr || !tensors->is_array()) return;
  for (const json::value& t : tensors->as_array()) {
    if (!t.is_object()) continue;
    auto* out = add();
    out->set_name(string_at(t.as_object(), "name"));
    pb::DataType type = pb::TYPE_INVALID;
    pb::DataType_Parse(string_at(t.as_object(), "data_type"), &type);
    out->set_data_type(type);
    if (const auto* dims = t.as_object().if_contains("dims"); dims && dims->is_array()) {
      for (const json::value& d : dims->as_array())
        if (d.is_int64()) out->add_dims(d.as_int64());
    }
  }
}

// GET …/config answers in Triton's field names: the same fields as Triton's ModelConfig.
CallStatus config_response(const HttpResponse& response, pb::ModelConfig& out) {
  Body body;
  if (!body_of(response, body) || !body.header.is_object())
    return internal("the configuration could not be read");
  const json::object& o = body.header.as_object();
  out.set_name(string_at(o, "name"));
  out.set_backend(string_at(o, "backend"));
  out.set_max_batch_size(static_cast<int32_t>(integer_at(o, "max_batch_size")));
  config_tensors(o, "input", [&] { return out.add_input(); });
  config_tensors(o, "output", [&] { return out.add_output(); });
  if (const auto* groups = o.if_contains("instance_group"); groups && groups->is_array()) {
    for (const json::value& g : groups->as_array()) {
      if (!g.is_object()) continue;
      auto* group = out.add_instance_group();
      group->set_name(string_at(g.as_object(), "name"));
      group->set_count(static_cast<int32_t>(integer_at(g.as_object(), "count")));
      pb::ModelInstanceGroup::Kind kind = pb::ModelInstanceGroup::KIND_AUTO;
      pb::ModelInstanceGroup::Kind_Parse(string_at(g.as_object(), "kind"), &kind);
      group->set_kind(kind);
    }
  }
  if (const auto* d = o.if_contains("dynamic_batching"); d && d->is_object()) {
    const json::object& batching = d->as_object();
    auto* out_batching = out.mutable_dynamic_batching();
    out_batching->set_max_queue_delay_microseconds(
        static_cast<uint64_t>(integer_at(batching, "max_queue_delay_microseconds")));
    if (const auto* sizes = batching.if_contains("preferred_batch_size");
        sizes && sizes->is_array()) {
      for (const json::value& size : sizes->as_array())
        if (size.is_int64())
          out_batching->add_preferred_batch_size(static_cast<int32_t>(size.as_int64()));
    }
    if (const auto* policy = batching.if_contains("default_queue_policy");
        policy && policy->is_object()) {
      out_batching->mutable_default_queue_policy()->set_max_queue_size(
          static_cast<uint32_t>(integer_at(policy->as_object(), "max_queue_size")));
    }
  }
  return {};
}

// GET …/stats answers in Triton's shape, field for field.
CallStatus statistics_response(const HttpResponse& response, pb::ModelStatisticsResponse& out) {
  Body body;
  if (!body_of(response, body) || !body.header.is_object())
    return internal("the statistics could not be read");
  const json::value* stats = body.header.as_object().if_contains("model_stats");
  if (stats == nullptr || !stats->is_array()) return internal("the answer has no model_stats");
  for (const json::value& item : stats->as_array()) {
    if (!item.is_object()) continue;
    const json::object& o = item.as_object();
    pb::ModelStatistics& m = *out.add_model_stats();
    m.set_name(string_at(o, "name"));
    m.set_version(string_at(o, "version"));
    m.set_last_inference(count_at(o, "last_inference"));
    m.set_inference_count(count_at(o, "inference_count"));
    m.set_execution_count(count_at(o, "execution_count"));
    if (const auto* s = o.if_contains("inference_stats"); s && s->is_object()) {
      pb::InferStatistics& i = *m.mutable_inference_stats();
      set_duration(*i.mutable_success(), s->as_object(), "success");
      set_duration(*i.mutable_fail(), s->as_object(), "fail");
      set_duration(*i.mutable_queue(), s->as_object(), "queue");
      set_duration(*i.mutable_compute_input(), s->as_object(), "compute_input");
      set_duration(*i.mutable_compute_infer(), s->as_object(), "compute_infer");
      set_duration(*i.mutable_compute_output(), s->as_object(), "compute_output");
    }
    if (const auto* b = o.if_contains("batch_stats"); b && b->is_array()) {
      for (const json::value& row : b->as_array()) {
        if (!row.is_object()) continue;
        pb::InferBatchStatistics& batch = *m.add_batch_stats();
        batch.set_batch_size(count_at(row.as_object(), "batch_size"));
        set_duration(*batch.mutable_compute_input(), row.as_object(), "compute_input");
        set_duration(*batch.mutable_compute_infer(), row.as_object(), "compute_infer");
        set_duration(*batch.mutable_compute_output(), row.as_object(), "compute_output");
      }
    }
  }
  return {};
}

// POST /v2/repository/index answers an array of {name, version, state, reason}.
CallStatus index_response(const HttpResponse& response, pb::RepositoryIndexResponse& out) {
  Body body;
  if (!body_of(response, body) || !body.header.is_array())
    return internal("the repository index could not be read");
  for (const json::value& item : body.header.as_array()) {
    if (!item.is_object()) continue;
    auto* row = out.add_models();
    row->set_name(string_at(item.as_object(), "name"));
    row->set_version(string_at(item.as_object(), "version"));
    row->set_state(string_at(item.as_object(), "state"));
    row->set_reason(string_at(item.as_object(), "reason"));
  }
  return {};
}

template <class Message>
std::string serialized(const Message& message) {
  std::string out;
  message.SerializeToString(&out);
  return out;
}

}  // namespace

Rpc rpc_of(std::string_view path) {
  if (!path.starts_with(kServicePrefix)) return Rpc::kUnknown;
  const std::string_view name = path.substr(kServicePrefix.size());
  if (name == "ServerLive") return Rpc::kServerLive;
  if (name == "ServerReady") return Rpc::kServerReady;
  if (name == "ModelReady") return Rpc::kModelReady;
  if (name == "ServerMetadata") return Rpc::kServerMetadata;
  if (name == "ModelMetadata") return Rpc::kModelMetadata;
  if (name == "ModelInfer") return Rpc::kModelInfer;
  if (name == "ModelStreamInfer") return Rpc::kModelStreamInfer;
  if (name == "ModelConfig") return Rpc::kModelConfig;
  if (name == "ModelStatistics") return Rpc::kModelStatistics;
  if (name == "RepositoryIndex") return Rpc::kRepositoryIndex;
  if (name == "RepositoryModelLoad") return Rpc::kRepositoryModelLoad;
  if (name == "RepositoryModelUnload") return Rpc::kRepositoryModelUnload;
  return Rpc::kUnknown;
}

Translated translate_request(Rpc rpc, std::string_view path, std::string_view message,
                             const std::vector<std::pair<std::string, std::string>>& metadata) {
  // protobuf logs a line to stderr for each string field of a message that is not UTF-8:
  // any client could fill the server log with them. The caller's answer says it instead.
  static const bool quiet = [] {
    google::protobuf::SetLogHandler(nullptr);
    return true;
  }();
  (void)quiet;
  Translated out;
  HttpRequest& request = out.request;
  request.method = "GET";
  request.protocol = "grpc";
  for (const auto& [key, value] : metadata) {
    // gRPC's own metadata (":authority", "grpc-timeout", "user-agent", …) stays out.
    if (key.starts_with(":") || key.starts_with("grpc-")) continue;
    request.headers.emplace_back(key, value);
  }
  request.signed_as = HttpRequest::SignedAs{
      std::string(path),
      registry::sha256_hex(std::as_bytes(std::span(message.data(), message.size())))};
  auto unreadable = [&] { out.refusal = invalid("the request message does not parse"); };
  switch (rpc) {
    case Rpc::kServerLive: {
      pb::ServerLiveRequest call;
      if (!parse(message, call)) unreadable();
      request.target = "/v2/health/live";
      break;
    }
    case Rpc::kServerReady: {
      pb::ServerReadyRequest call;
      if (!parse(message, call)) unreadable();
      request.target = "/v2/health/ready";
      break;
    }
    case Rpc::kServerMetadata: {
      pb::ServerMetadataRequest call;
      if (!parse(message, call)) unreadable();
      request.target = "/v2";
      break;
    }
    case Rpc::kModelReady: {
      pb::ModelReadyRequest call;
      if (!parse(message, call)) unreadable();
      request.target = model_path(call.name(), call.version()) + "/ready";
      break;
    }
    case Rpc::kModelMetadata: {
      pb::ModelMetadataRequest call;
      if (!parse(message, call)) unreadable();
      request.target = model_path(call.name(), call.version());
      break;
    }
    case Rpc::kModelInfer:
    case Rpc::kModelStreamInfer: {
      pb::ModelInferRequest call;
      if (!parse(message, call)) {
        unreadable();
        break;
      }
      out.call_id = call.id();
      out.refusal = infer_request(call, request);
      break;
    }
    case Rpc::kModelConfig: {
      pb::ModelConfigRequest call;
      if (!parse(message, call)) unreadable();
      request.target = model_path(call.name(), call.version()) + "/config";
      break;
    }
    case Rpc::kModelStatistics: {
      pb::ModelStatisticsRequest call;
      if (!parse(message, call)) unreadable();
      request.target = (call.name().empty() ? std::string("/v2/models")
                                            : model_path(call.name(), call.version())) +
                       "/stats";
      break;
    }
    case Rpc::kRepositoryIndex: {
      pb::RepositoryIndexRequest call;
      if (!parse(message, call)) unreadable();
      request.method = "POST";
      request.target = "/v2/repository/index";
      request.body = call.ready() ? R"({"ready":true})" : "{}";
      request.headers.emplace_back("Content-Type", "application/json");
      break;
    }
    case Rpc::kRepositoryModelLoad:
    case Rpc::kRepositoryModelUnload: {
      // The two requests have the same fields.
      pb::RepositoryModelLoadRequest call;
      if (!parse(message, call)) unreadable();
      request.method = "POST";
      request.target = "/v2/repository/models/" + segment(call.model_name()) +
                       (rpc == Rpc::kRepositoryModelLoad ? "/load" : "/unload");
      break;
    }
    case Rpc::kUnknown:
      out.refusal = {kUnimplemented,
                     "unimplemented: ModelGate does not serve " + std::string(path)};
      break;
  }
  return out;
}

std::string stream_error(const CallStatus& status, const std::string& call_id) {
  pb::ModelStreamInferResponse out;
  out.mutable_infer_response()->set_id(call_id);
  out.set_error_message(status.message);
  return serialized(out);
}

CallStatus status_of_error(const HttpResponse& response) {
  std::string code = "internal", message = "the server could not answer";
  Body body;
  if (body_of(response, body) && body.header.is_object()) {
    const json::object& o = body.header.as_object();
    if (!string_at(o, "code").empty()) code = string_at(o, "code");
    if (!string_at(o, "error").empty()) message = string_at(o, "error");
  }
  int grpc_code = kUnknown;
  switch (response.status) {
    case 400:
    case 411:
    case 415:
    case 422:
      grpc_code = kInvalidArgument;
      break;
    case 401:
      grpc_code = kUnauthenticated;
      break;
    case 403:
      grpc_code = kPermissionDenied;
      break;
    case 404:
      grpc_code = kNotFound;
      break;
    case 405:
    case 501:
      grpc_code = kUnimplemented;
      break;
    case 409:
      grpc_code = kFailedPrecondition;
      break;
    case 413:
    case 429:
      grpc_code = kResourceExhausted;
      break;
    case 499:
      grpc_code = kCancelled;
      break;
    case 500:
      grpc_code = kInternal;
      break;
    case 503:
      grpc_code = code == "deadline_exceeded" ? kDeadlineExceeded : kUnavailable;
      break;
    case 504:
      grpc_code = kDeadlineExceeded;
      break;
    default:
      break;
  }
  CallStatus status{grpc_code, code + ": " + message, {{"mg-error-code", code}}};
  for (const auto& [name, value] : response.headers) {
    if (name == "Retry-After") status.trailers.emplace_back("retry-after", value);
  }
  return status;
}

CallAnswer translate_response(Rpc rpc, const HttpResponse& response, const std::string& call_id) {
  CallAnswer answer;
  const bool ok = response.status == 200;
  switch (rpc) {
    case Rpc::kServerLive: {
      if (!ok) break;
      pb::ServerLiveResponse out;
      out.set_live(true);
      answer.message = serialized(out);
      return answer;
    }
    case Rpc::kServerReady:
    case Rpc::kModelReady: {
      // Readiness is the answer, not an error: 503 means "not ready" (a model that does
      // not exist is still NOT_FOUND).
      if (!ok && response.status != 503) break;
      pb::ServerReadyResponse out;  // the same wire form as ModelReadyResponse
      out.set_ready(ok);
      answer.message = serialized(out);
      return answer;
    }
    case Rpc::kServerMetadata: {
      if (!ok) break;
      pb::ServerMetadataResponse out;
      Body body;
      if (!body_of(response, body) || !body.header.is_object()) {
        answer.status = internal("the server metadata could not be read");
        return answer;
      }
      const json::object& o = body.header.as_object();
      out.set_name(string_at(o, "name"));
      out.set_version(string_at(o, "version"));
      if (const auto* e = o.if_contains("extensions"); e && e->is_array()) {
        for (const json::value& x : e->as_array())
          if (x.is_string()) out.add_extensions(std::string(x.as_string()));
      }
      answer.message = serialized(out);
      return answer;
    }
    case Rpc::kModelMetadata: {
      if (!ok) break;
      pb::ModelMetadataResponse out;
      answer.status = metadata_response(response, out);
      if (answer.status.ok()) answer.message = serialized(out);
      return answer;
    }
    case Rpc::kModelInfer: {
      if (!ok) break;
      pb::ModelInferResponse out;
      answer.status = infer_response(response, out);
      if (answer.status.ok()) answer.message = serialized(out);
      return answer;
    }
    case Rpc::kModelStreamInfer: {
      // On a stream an error answers its request and the stream goes on.
      pb::ModelStreamInferResponse out;
      CallStatus status =
          ok ? infer_response(response, *out.mutable_infer_response()) : status_of_error(response);
      if (!status.ok()) {
        out.clear_infer_response();
        out.mutable_infer_response()->set_id(call_id);
        out.set_error_message(status.message);
      }
      answer.message = serialized(out);
      return answer;
    }
    case Rpc::kModelConfig: {
      if (!ok) break;
      pb::ModelConfigResponse out;
      answer.status = config_response(response, *out.mutable_config());
      if (answer.status.ok()) answer.message = serialized(out);
      return answer;
    }
    case Rpc::kModelStatistics: {
      if (!ok) break;
      pb::ModelStatisticsResponse out;
      answer.status = statistics_response(response, out);
      if (answer.status.ok()) answer.message = serialized(out);
      return answer;
    }
    case Rpc::kRepositoryIndex: {
      if (!ok) break;
      pb::RepositoryIndexResponse out;
      answer.status = index_response(response, out);
      if (answer.status.ok()) answer.message = serialized(out);
      return answer;
    }
    case Rpc::kRepositoryModelLoad:
    case Rpc::kRepositoryModelUnload:
      if (!ok) break;
      return answer;  // an empty message
    case Rpc::kUnknown:
      break;
  }
  answer.status = status_of_error(response);
  return answer;
}

}  // namespace mg::gateway
