// ModelGate C++ client SDK, gRPC transport: the KServe v2 gRPC service
// (inference.GRPCInferenceService, docs/grpc.md) over TLS.
//
// The calls mirror Client's data-plane calls and take and give the same JSON, so code
// moves between HTTPS and gRPC by changing the class: infer() sends a KServe v2 JSON
// request as a ModelInfer call and returns the answer in the JSON form HTTPS gives
// (outputs with "data"). call() sends any RPC of the service as its serialized message,
// for callers with their own generated stubs. Unlike Client, one GrpcClient may be shared
// by threads: its calls share one HTTP/2 connection.
//
// A refusal is an answer, not an exception: code is the gRPC status code (docs/grpc.md's
// table), message "<code word>: <error>", error_code the code word (trailer mg-error-code).
// A server that cannot be reached answers UNAVAILABLE (14), as gRPC reports it.
#pragma once

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace modelgate {

struct GrpcClientOptions {
  std::string address = "127.0.0.1:8444";  // HOST:PORT of the gRPC listener (TLS)
  std::string api_key;                     // sent as "authorization: Bearer …" metadata
  std::string ca_file;                     // PEM certificate(s) to trust; empty: the system's store
  std::chrono::seconds timeout{60};        // each call's deadline
  // Sign every call (x-mg-* metadata over POST, the RPC's path and the message's bytes)
  // instead of sending the key. Required for signed-only keys.
  bool sign = false;
};

struct GrpcResponse {
  int code = 0;             // the gRPC status code; 0 is OK
  std::string message;      // the status message when not OK
  std::string error_code;   // the code word ("unauthorized", "rate_limited", …), when not OK
  std::string retry_after;  // seconds, when the server says when to retry
  // When OK: the answer as JSON (infer, the health and metadata calls), or the serialized
  // response message (call).
  std::string body;

  bool ok() const { return code == 0; }
};

class GrpcClient {
 public:
  // Throws std::invalid_argument when ca_file cannot be read. Connects on the first call.
  explicit GrpcClient(GrpcClientOptions options);
  ~GrpcClient();
  GrpcClient(const GrpcClient&) = delete;
  GrpcClient& operator=(const GrpcClient&) = delete;

  // {"live": true} / {"ready": true}, as GET /v2/health/live and /v2/health/ready.
  GrpcResponse server_live();
  GrpcResponse server_ready();
  // version: a number, an alias, or "" for the default alias.
  GrpcResponse model_ready(std::string_view model, std::string_view version = {});
  // {"name", "version", "extensions"}, as GET /v2.
  GrpcResponse server_metadata();
  // {"name", "versions", "platform", "inputs", "outputs"}, as GET /v2/models/{m}.
  GrpcResponse model_metadata(std::string_view model, std::string_view version = {});
  // A KServe v2 JSON request whose inputs carry "data", or — as HTTPS's binary tensor
  // extension — all of them "parameters": {"binary_data_size": N} with their bytes, in
  // order, in `binary` (sent as raw_input_contents). Throws std::invalid_argument for JSON
  // that is not such a request, or sizes that do not add up to `binary`.
  GrpcResponse infer(std::string_view model, std::string_view version,
                     std::string_view request_json, std::string_view binary = {});

  // Any RPC by name ("ModelInfer", "ModelConfig", …) with its serialized request message.
  GrpcResponse call(std::string_view rpc, std::string_view message);

  struct Channel;  // opaque: defined in grpc_client.cpp

 private:
  GrpcClientOptions options_;
  std::unique_ptr<Channel> channel_;
};

}  // namespace modelgate
