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

inline CallStatus invalid(const std::string& message) {
  return refusal(kInvalidArgument, "bad_request", message);
}

inline CallStatus internal(const std::string& why) { return refusal(kInternal, "internal", why); }

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
