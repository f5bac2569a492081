#include "admin/grpc_infer.h"

#include <grpc_service.pb.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "modelgate/client.h"
#include "proto/infer_parameter_json.h"

namespace mg::admin {
namespace {

namespace json = boost::json;
namespace pb = inference;

constexpr char kModelInfer[] = "/inference.GRPCInferenceService/ModelInfer";

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
    for (const auto& [key, value] : p->as_object()) set_parameter(map[std::string(key)], value);
  }
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
                                 const std::string& request_json) {
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
    const auto* data = in.if_contains("data");
    if (data == nullptr) {
      throw std::invalid_argument("input '" + tensor->name() +
                                  "' has no \"data\" (binary inputs are sent over HTTPS only)");
    }
    set_contents(*tensor->mutable_contents(), tensor->datatype(), *data);
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

}  // namespace

json::value grpc_infer(const GrpcTarget& target, const std::string& model,
                       const std::string& version, const std::string& request_json) {
  const std::string message = request_of(model, version, request_json).SerializeAsString();
  grpc::SslCredentialsOptions tls;
  if (!target.ca_file.empty()) tls.pem_root_certs = read_pem(target.ca_file);
  auto channel = grpc::CreateChannel(target.address, grpc::SslCredentials(tls));
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  if (target.sign) {
    // The canonical form of docs/grpc.md: POST, the RPC's path, the message's exact bytes.
    const std::string key_id = target.api_key.substr(3, 12);
    const std::string timestamp =
        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count());
    const std::string n = nonce();
    context.AddMetadata("x-mg-key-id", key_id);
    context.AddMetadata("x-mg-timestamp", timestamp);
    context.AddMetadata("x-mg-nonce", n);
    context.AddMetadata("x-mg-signature",
                        modelgate::sign_request(target.api_key, "POST", kModelInfer, timestamp, n,
                                                modelgate::sha256_hex(message)));
  } else {
    context.AddMetadata("authorization", "Bearer " + target.api_key);
  }
  grpc::Slice slice(message);
  const grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::CompletionQueue queue;
  auto call = stub.PrepareUnaryCall(&context, kModelInfer, request, &queue);
  call->StartCall();
  grpc::Status status;
  call->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  if (!queue.Next(&tag, &ok) || !ok) throw GrpcError("the call did not complete");
  if (!status.ok()) throw GrpcError(status.error_message());
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (response.Dump(&slices).ok()) {
    for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  pb::ModelInferResponse answer;
  if (!answer.ParseFromString(bytes)) throw GrpcError("the answer is not a ModelInferResponse");
  return json_of(answer);
}

}  // namespace mg::admin
