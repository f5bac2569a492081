// A gRPC call's request message as the HTTP request it stands for (grpc_calls.h).
#include <boost/json.hpp>
#include <cstdint>
#include <cstring>
#include <limits>

#include "gateway/grpc/grpc_calls.h"
#include "gateway/grpc/grpc_wire.h"
#include "gateway/plugin_host/dtype.h"
#include "registry/sha256.h"

namespace mg::gateway {
namespace {

namespace json = boost::json;
using namespace wire;

constexpr std::string_view kServicePrefix = "/inference.GRPCInferenceService/";

// A path segment as it may appear in a target: anything but unreserved characters is
// percent-encoded, so a name can never reach another route (it is then simply not found).
bool unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}
std::string segment(std::string_view text) { return percent_encoded(text, unreserved); }

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
  bool signed_call = false;
  for (const auto& [key, value] : metadata) {
    // gRPC's own metadata (":authority", "grpc-timeout", "user-agent", …) stays out.
    if (key.starts_with(":") || key.starts_with("grpc-")) continue;
    signed_call = signed_call || key == "x-mg-signature";
    request.headers.emplace_back(key, value);
  }
  // Only a signed call needs its message's digest: hashing every message cost a bearer
  // call ~2 µs for a 3 KB message, and grows with it (~0.3 ms for a 600 KB image).
  if (signed_call) {
    request.signed_as = HttpRequest::SignedAs{
        std::string(path),
        registry::sha256_hex(std::as_bytes(std::span(message.data(), message.size())))};
  }
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

std::string percent_encoded(std::string_view text, bool (*keep)(unsigned char)) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (keep(c)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace mg::gateway
