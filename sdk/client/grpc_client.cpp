// The SDK's gRPC transport (modelgate/grpc_client.h): gRPC's generic stub with the
// messages' bytes, so a signature covers exactly what is sent.
#include "modelgate/grpc_client.h"

#include <grpc_service.pb.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "modelgate/client.h"
#include "proto/infer_parameter_json.h"

namespace modelgate {
namespace {

namespace json = boost::json;
namespace pb = inference;

constexpr std::string_view kService = "/inference.GRPCInferenceService/";

std::string read_pem(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument("cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

using mg::proto::set_parameter;

template <class Map>
void set_parameters(Map& map, const json::object& o) {
  if (const auto* p = o.if_contains("parameters"); p && p->is_object()) {
    for (const auto& [key, value] : p->as_object()) {
      // The binary extension's sizes say where an input's bytes are; over gRPC they are
      // raw_input_contents instead.
      if (key == "binary_data_size") continue;
      set_parameter(map[std::string(key)], value);
    }
  }
}

// An input's "parameters": {"binary_data_size": N} (the binary tensor extension), or -1.
int64_t binary_size_of(const json::object& in) {
  const auto* p = in.if_contains("parameters");
  const auto* size =
      p != nullptr && p->is_object() ? p->as_object().if_contains("binary_data_size") : nullptr;
  if (size == nullptr) return -1;
  if (!size->is_int64() || size->as_int64() < 0) {
    throw std::invalid_argument("\"binary_data_size\" must be a count of bytes");
  }
  return size->as_int64();
}

// "data" flattened, row-major (nested arrays as KServe allows).
void flatten(const json::value& v, std::vector<const json::value*>& out) {
  if (v.is_array()) {
    for (const auto& item : v.as_array()) flatten(item, out);
  } else {
    out.push_back(&v);
  }
}

void set_contents(pb::InferTensorContents& c, const std::string& datatype,
                  const json::value& data) {
  std::vector<const json::value*> values;
  flatten(data, values);
  for (const json::value* v : values) {
    if (datatype == "FP32") {
      c.add_fp32_contents(v->to_number<float>());
    } else if (datatype == "FP64") {
      c.add_fp64_contents(v->to_number<double>());
    } else if (datatype == "INT64") {
      c.add_int64_contents(v->to_number<int64_t>());
    } else if (datatype == "INT8" || datatype == "INT16" || datatype == "INT32") {
      c.add_int_contents(v->to_number<int32_t>());
    } else if (datatype == "UINT64") {
      c.add_uint64_contents(v->to_number<uint64_t>());
    } else if (datatype == "UINT8" || datatype == "UINT16" || datatype == "UINT32") {
      c.add_uint_contents(v->to_number<uint32_t>());
    } else if (datatype == "BOOL") {
      c.add_bool_contents(v->as_bool());
    } else if (datatype == "BYTES") {
      c.add_bytes_contents(std::string(v->as_string()));
    } else {
      throw std::invalid_argument("datatype " + datatype + " cannot be sent as JSON data");
    }
  }
}

pb::ModelInferRequest request_of(const std::string& model, const std::string& version,
                                 const std::string& request_json, std::string_view binary) {
  const json::value parsed = json::parse(request_json);
  const json::object& body = parsed.as_object();
  pb::ModelInferRequest call;
  call.set_model_name(model);
  call.set_model_version(version);
  if (const auto* id = body.if_contains("id"); id && id->is_string())
    call.set_id(std::string(id->as_string()));
  set_parameters(*call.mutable_parameters(), body);
  for (const auto& item : body.at("inputs").as_array()) {
    const json::object& in = item.as_object();
    auto* tensor = call.add_inputs();
    tensor->set_name(std::string(in.at("name").as_string()));
    tensor->set_datatype(std::string(in.at("datatype").as_string()));
    for (const auto& d : in.at("shape").as_array()) tensor->add_shape(d.to_number<int64_t>());
    set_parameters(*tensor->mutable_parameters(), in);
    const int64_t size = binary_size_of(in);
    if (size >= 0) {
      if (static_cast<uint64_t>(size) > binary.size()) {
        throw std::invalid_argument("input '" + tensor->name() + "': " + std::to_string(size) +
                                    " binary bytes declared, " + std::to_string(binary.size()) +
                                    " left");
      }
      call.add_raw_input_contents(std::string(binary.substr(0, static_cast<std::size_t>(size))));
      binary.remove_prefix(static_cast<std::size_t>(size));
      continue;
    }
    const auto* data = in.if_contains("data");
    if (data == nullptr) {
      throw std::invalid_argument("input '" + tensor->name() +
                                  "' has no \"data\" and no \"binary_data_size\"");
    }
    set_contents(*tensor->mutable_contents(), tensor->datatype(), *data);
  }
  if (!binary.empty()) {
    throw std::invalid_argument(std::to_string(binary.size()) +
                                " binary bytes left over after the inputs");
  }
  // gRPC carries every input's bytes in raw_input_contents or none: no mix.
  if (call.raw_input_contents_size() > 0 && call.raw_input_contents_size() != call.inputs_size()) {
    throw std::invalid_argument("over gRPC every input is binary (binary_data_size) or none is");
  }
  if (const auto* outputs = body.if_contains("outputs"); outputs && outputs->is_array()) {
    for (const auto& item : outputs->as_array()) {
      auto* out = call.add_outputs();
      out->set_name(std::string(item.as_object().at("name").as_string()));
      set_parameters(*out->mutable_parameters(), item.as_object());
    }
  }
  return call;
}

template <class T>
json::array numbers(const std::string& raw) {
  json::array out;
  for (std::size_t at = 0; at + sizeof(T) <= raw.size(); at += sizeof(T)) {
    T v;
    std::memcpy(&v, raw.data() + at, sizeof(T));
    out.emplace_back(v);
  }
  return out;
}

json::array data_of(const std::string& datatype, const std::string& raw) {
  if (datatype == "FP32") return numbers<float>(raw);
  if (datatype == "FP64") return numbers<double>(raw);
  if (datatype == "INT64") return numbers<int64_t>(raw);
  if (datatype == "INT32") return numbers<int32_t>(raw);
  if (datatype == "INT16") return numbers<int16_t>(raw);
  if (datatype == "INT8") return numbers<int8_t>(raw);
  if (datatype == "UINT64") return numbers<uint64_t>(raw);
  if (datatype == "UINT32") return numbers<uint32_t>(raw);
  if (datatype == "UINT16") return numbers<uint16_t>(raw);
  if (datatype == "UINT8") return numbers<uint8_t>(raw);
  json::array out;
  if (datatype == "BOOL") {
    for (char c : raw) out.emplace_back(c != 0);
  } else if (datatype == "BYTES") {  // 4-byte little-endian lengths, each with its bytes
    for (std::size_t at = 0; at + 4 <= raw.size();) {
      uint32_t length;
      std::memcpy(&length, raw.data() + at, 4);
      at += 4;
      const std::size_t n = std::min<std::size_t>(length, raw.size() - at);
      out.emplace_back(json::string(raw.data() + at, n));
      at += n;
    }
  }
  return out;
}

json::value json_of(const pb::ModelInferResponse& answer) {
  json::array outputs;
  for (int i = 0; i < answer.outputs_size(); ++i) {
    const auto& t = answer.outputs(i);
    json::array shape;
    for (int64_t d : t.shape()) shape.emplace_back(d);
    const std::string& raw =
        i < answer.raw_output_contents_size() ? answer.raw_output_contents(i) : std::string();
    outputs.emplace_back(json::object{{"name", t.name()},
                                      {"datatype", t.datatype()},
                                      {"shape", std::move(shape)},
                                      {"data", data_of(t.datatype(), raw)}});
  }
  json::object out{{"model_name", answer.model_name()},
                   {"model_version", answer.model_version()},
                   {"outputs", std::move(outputs)}};
  if (!answer.id().empty()) out["id"] = answer.id();
  return out;
}

std::string nonce() {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device random;
  std::string out;
  for (int i = 0; i < 32; ++i) out += kAlphabet[random() % 36];
  return out;
}

json::array strings(const google::protobuf::RepeatedPtrField<std::string>& values) {
  json::array out;
  for (const auto& v : values) out.emplace_back(json::string(v));
  return out;
}

json::array tensors(
    const google::protobuf::RepeatedPtrField<pb::ModelMetadataResponse::TensorMetadata>& list) {
  json::array out;
  for (const auto& t : list) {
    json::array shape;
    for (int64_t d : t.shape()) shape.emplace_back(d);
    out.emplace_back(
        json::object{{"name", t.name()}, {"datatype", t.datatype()}, {"shape", std::move(shape)}});
  }
  return out;
}

// An OK answer's message (serialized) as the JSON HTTPS gives for the same request.
template <class Message>
GrpcResponse as_json(GrpcResponse answer, json::value (*convert)(const Message&)) {
  if (!answer.ok()) return answer;
  Message message;
  if (!message.ParseFromString(answer.body)) {
    answer.code = static_cast<int>(grpc::StatusCode::INTERNAL);
    answer.message = "the answer is not a " + Message::descriptor()->name();
    answer.body.clear();
    return answer;
  }
  answer.body = json::serialize(convert(message));
  return answer;
}

}  // namespace

struct GrpcClient::Channel {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<grpc::GenericStub> stub;
};

GrpcClient::GrpcClient(GrpcClientOptions options)
    : options_(std::move(options)), channel_(std::make_unique<Channel>()) {
  grpc::SslCredentialsOptions tls;
  if (!options_.ca_file.empty()) tls.pem_root_certs = read_pem(options_.ca_file);
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(-1);  // the server bounds what it sends
  channel_->channel =
      grpc::CreateCustomChannel(options_.address, grpc::SslCredentials(tls), arguments);
  channel_->stub = std::make_unique<grpc::GenericStub>(channel_->channel);
}

GrpcClient::~GrpcClient() = default;

GrpcResponse GrpcClient::call(std::string_view rpc, std::string_view message) {
  const std::string path = std::string(kService) + std::string(rpc);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + options_.timeout);
  if (options_.sign) {
    // The canonical form of docs/grpc.md: POST, the RPC's path, the message's exact bytes.
    const std::string key_id = options_.api_key.substr(3, 12);
    const std::string timestamp =
        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count());
    const std::string n = nonce();
    context.AddMetadata("x-mg-key-id", key_id);
    context.AddMetadata("x-mg-timestamp", timestamp);
    context.AddMetadata("x-mg-nonce", n);
    context.AddMetadata("x-mg-signature", sign_request(options_.api_key, "POST", path, timestamp, n,
                                                       sha256_hex(message)));
  } else {
    context.AddMetadata("authorization", "Bearer " + options_.api_key);
  }
  grpc::Slice slice(message.data(), message.size());
  const grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::CompletionQueue queue;
  auto unary = channel_->stub->PrepareUnaryCall(&context, path, request, &queue);
  unary->StartCall();
  grpc::Status status;
  unary->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  GrpcResponse answer;
  if (!queue.Next(&tag, &ok) || !ok) {
    answer.code = static_cast<int>(grpc::StatusCode::UNKNOWN);
    answer.message = "the call did not complete";
    return answer;
  }
  answer.code = static_cast<int>(status.error_code());
  if (!status.ok()) {
    answer.message = status.error_message();
    for (const auto& [key, value] : context.GetServerTrailingMetadata()) {
      const std::string_view k(key.data(), key.size());
      if (k == "mg-error-code") answer.error_code.assign(value.data(), value.size());
      if (k == "retry-after") answer.retry_after.assign(value.data(), value.size());
    }
    return answer;
  }
  std::vector<grpc::Slice> slices;
  if (response.Dump(&slices).ok()) {
    answer.body.reserve(response.Length());
    for (const auto& s : slices)
      answer.body.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return answer;
}

GrpcResponse GrpcClient::server_live() {
  return as_json<pb::ServerLiveResponse>(
      call("ServerLive", pb::ServerLiveRequest().SerializeAsString()),
      [](const pb::ServerLiveResponse& m) -> json::value {
        return {{"live", m.live()}};
      });
}

GrpcResponse GrpcClient::server_ready() {
  return as_json<pb::ServerReadyResponse>(
      call("ServerReady", pb::ServerReadyRequest().SerializeAsString()),
      [](const pb::ServerReadyResponse& m) -> json::value {
        return {{"ready", m.ready()}};
      });
}

GrpcResponse GrpcClient::model_ready(std::string_view model, std::string_view version) {
  pb::ModelReadyRequest request;
  request.set_name(std::string(model));
  request.set_version(std::string(version));
  return as_json<pb::ModelReadyResponse>(call("ModelReady", request.SerializeAsString()),
                                         [](const pb::ModelReadyResponse& m) -> json::value {
                                           return {{"ready", m.ready()}};
                                         });
}

GrpcResponse GrpcClient::server_metadata() {
  return as_json<pb::ServerMetadataResponse>(
      call("ServerMetadata", pb::ServerMetadataRequest().SerializeAsString()),
      [](const pb::ServerMetadataResponse& m) -> json::value {
        return json::object{
            {"name", m.name()}, {"version", m.version()}, {"extensions", strings(m.extensions())}};
      });
}

GrpcResponse GrpcClient::model_metadata(std::string_view model, std::string_view version) {
  pb::ModelMetadataRequest request;
  request.set_name(std::string(model));
  request.set_version(std::string(version));
  return as_json<pb::ModelMetadataResponse>(call("ModelMetadata", request.SerializeAsString()),
                                            [](const pb::ModelMetadataResponse& m) -> json::value {
                                              return json::object{
                                                  {"name", m.name()},
                                                  {"versions", strings(m.versions())},
                                                  {"platform", m.platform()},
                                                  {"inputs", tensors(m.inputs())},
                                                  {"outputs", tensors(m.outputs())}};
                                            });
}

GrpcResponse GrpcClient::infer(std::string_view model, std::string_view version,
                               std::string_view request_json, std::string_view binary) {
  pb::ModelInferRequest request;
  try {
    request =
        request_of(std::string(model), std::string(version), std::string(request_json), binary);
  } catch (const std::invalid_argument&) {
    throw;
  } catch (const std::exception& e) {  // JSON that does not parse or is not a request
    throw std::invalid_argument(std::string("not a KServe v2 JSON request: ") + e.what());
  }
  return as_json<pb::ModelInferResponse>(call("ModelInfer", request.SerializeAsString()), &json_of);
}

}  // namespace modelgate
