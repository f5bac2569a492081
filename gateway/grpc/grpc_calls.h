#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/http/http_types.h"

namespace mg::gateway {

// The KServe v2 gRPC service's calls as the HTTP requests they stand for, and the HTTP
// answers as the calls' answers, so a call over gRPC goes through the very same router
// as one over HTTP: authentication, signing, tenancy, rate limits, quotas, usage,
// batching, metrics and access log (docs/grpc.md). Protobuf stays inside grpc_requests.cpp and
// grpc_answers.cpp: messages come and go as their serialized bytes.

// The RPCs ModelGate serves, by their full path ("/inference.GRPCInferenceService/…").
enum class Rpc {
  kServerLive,
  kServerReady,
  kModelReady,
  kServerMetadata,
  kModelMetadata,
  kModelInfer,
  kModelStreamInfer,
  kModelConfig,
  kModelStatistics,
  kRepositoryIndex,
  kRepositoryModelLoad,
  kRepositoryModelUnload,
  kUnknown,
};
Rpc rpc_of(std::string_view path);

// A gRPC status: the code (grpc::StatusCode's value), its message, and trailing metadata.
struct CallStatus {
  int code = 0;  // OK
  std::string message;
  std::vector<std::pair<std::string, std::string>> trailers;
  bool ok() const { return code == 0; }
};

namespace wire {
// grpc::StatusCode values (grpc/impl/codegen/status_code_enum.h), kept here so that the
// listener needs neither gRPC nor protobuf for them.
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

// A refusal in the error contract's form: message "<word>: <message>", the code word also
// in the trailer mg-error-code.
inline CallStatus refusal(int code, const std::string& word, const std::string& message) {
  return {code, word + ": " + message, {{"mg-error-code", word}}};
}
}  // namespace wire

// What a call's request turned into: the HTTP request to route, or the status to answer
// at once (a message that does not parse, contents that do not match their shape).
struct Translated {
  HttpRequest request;
  CallStatus refusal;   // not ok: answer this instead
  std::string call_id;  // ModelInfer's id, for the answer of a stream's failed request
};

// Translates one request message of `rpc` (its serialized bytes) received with the
// call's metadata (lowercase keys, as gRPC delivers them). The HTTP request carries the
// metadata as headers, protocol "grpc", and signed_as: a signed call's signature covers
// POST, the RPC's path and these exact bytes.
Translated translate_request(Rpc rpc, std::string_view path, std::string_view message,
                             const std::vector<std::pair<std::string, std::string>>& metadata);

// The router's answer to a translated request as the call's answer: the serialized
// response message, or a status in the error mapping of docs/grpc.md.
struct CallAnswer {
  std::string message;
  CallStatus status;
};
CallAnswer translate_response(Rpc rpc, const HttpResponse& response,
                              const std::string& call_id = {});

// A ModelStreamInferResponse answering a stream's request with an error (the stream goes
// on): error_message the status's message, infer_response.id the request's id.
std::string stream_error(const CallStatus& status, const std::string& call_id);

// `text` with every byte `keep` refuses written as %XX (upper-case hex): a name as a path
// segment of the route, a status message as grpc-message.
std::string percent_encoded(std::string_view text, bool (*keep)(unsigned char));

// A response of the error contract ({"error", "code"} with an HTTP status) as a gRPC
// status: the table of docs/grpc.md; the message is "<code>: <error>", the code word also
// in the trailer mg-error-code, Retry-After in retry-after.
CallStatus status_of_error(const HttpResponse& response);

}  // namespace mg::gateway
