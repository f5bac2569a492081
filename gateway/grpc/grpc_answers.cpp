// The router's answers as gRPC call answers (grpc_calls.h).
#include <boost/json.hpp>
#include <charconv>
#include <cstdint>

#include "gateway/grpc/grpc_calls.h"
#include "gateway/grpc/grpc_wire.h"
#include "proto/infer_parameter_json.h"

namespace mg::gateway {
namespace {

namespace json = boost::json;
using namespace wire;
using mg::proto::set_parameter;

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

std::string string_at(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
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

}  // namespace

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
