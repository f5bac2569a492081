// What the two halves of the gRPC translation share (grpc_requests.cpp turns calls into
// HTTP requests, grpc_answers.cpp turns the router's answers into call answers): gRPC
// status codes, the refusals both make, and the protobuf round trip. Private to
// gateway/grpc.
#pragma once

#include <grpc_service.pb.h>

#include <string>
#include <string_view>

#include "gateway/grpc/grpc_calls.h"

namespace mg::gateway::wire {

namespace pb = inference;

// grpc::StatusCode values (grpc/impl/codegen/status_code_enum.h), kept here so that the
// translation needs protobuf only.
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

inline CallStatus invalid(const std::string& message) {
  return {kInvalidArgument, "bad_request: " + message, {{"mg-error-code", "bad_request"}}};
}

inline CallStatus internal(const std::string& why) {
  return {kInternal, "internal: " + why, {{"mg-error-code", "internal"}}};
}

template <class Message>
bool parse(std::string_view bytes, Message& message) {
  return message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

template <class Message>
std::string serialized(const Message& message) {
  std::string out;
  message.SerializeToString(&out);
  return out;
}

}  // namespace mg::gateway::wire
