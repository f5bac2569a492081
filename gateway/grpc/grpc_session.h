#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/grpc/grpc_calls.h"
#include "gateway/http/http_types.h"

namespace mg::gateway {

struct GrpcSessionLimits {
  // Largest request message: a larger one is refused RESOURCE_EXHAUSTED from its 5-byte
  // prefix, before its bytes are kept.
  std::size_t max_message_bytes = std::size_t{64} << 20;
  uint32_t max_concurrent_streams = 256;   // SETTINGS_MAX_CONCURRENT_STREAMS
  std::size_t metadata_limit = 16 * 1024;  // a call's header names and values together
  // A stream's answers not yet sent (its client reads slower than it asks): beyond this
  // many bytes its next requests wait unrouted — held against the buffered budget below —
  // until the client takes the answers.
  std::size_t stream_answers_limit = std::size_t{1} << 20;
  // Bytes of request messages not complete yet, over every session sharing `buffered`:
  // a call that would pass it is refused UNAVAILABLE overloaded (one message always fits).
  std::size_t buffered_budget = std::size_t{512} << 20;
  std::atomic<std::size_t>* buffered = nullptr;  // null: no budget
  // Each refusal the session answers itself, before any router sees the call, by its code
  // word ("payload_too_large", "bad_request", "overloaded", …): the metrics' count of error
  // answers, as the router counts its own.
  std::function<void(const std::string& code)> on_refusal;
};

// A call's request message, translated (grpc_calls.h), for the router.
struct GrpcRequest {
  int32_t stream_id = 0;
  HttpRequest request;  // deadline set from the call's grpc-timeout
};

// One HTTP/2 connection's gRPC calls (nghttp2), without the socket: bytes read go into
// receive(), the frames to write come out of take_output(). Each call's messages are
// unframed (gRPC's 5-byte prefix), translated into the HTTP requests they stand for and
// handed out by take_requests(); the router's answers come back through answer() and leave
// as messages and trailers (grpc-status, grpc-message, the status's own trailers). A stream
// (ModelStreamInfer) routes its messages one at a time, in order. Not thread-safe: one
// connection's thread uses it.
class GrpcSession {
 public:
  explicit GrpcSession(GrpcSessionLimits limits);
  ~GrpcSession();
  GrpcSession(const GrpcSession&) = delete;
  GrpcSession& operator=(const GrpcSession&) = delete;

  // Bytes read from the client. false: the connection is broken (bad preface, a flood of
  // frames, a connection-level protocol error); write what take_output() still gives, then
  // close.
  bool receive(std::string_view bytes);
  // The requests ready for the router since the last call (a stream's next message becomes
  // ready once the previous one is answered).
  std::vector<GrpcRequest> take_requests();
  bool has_requests() const;
  // The router's answer to a stream's request (dropped when the call has ended meanwhile).
  void answer(int32_t stream_id, HttpResponse response);
  // Ends a call whose request was not routed (overloaded, deadline passed) with `status`.
  void refuse(int32_t stream_id, const CallStatus& status);
  // Appends the frames waiting to be written to `out`. A stream whose answers were held
  // back by the client's flow control may have its next request ready afterwards.
  void take_output(std::string& out);
  // A keepalive PING; ping_answered() is false until its ACK arrives.
  void ping();
  bool ping_answered() const;
  // Accepts no new calls (GOAWAY); the open ones finish.
  void go_away();
  // Nothing more to read or write (or broken): the connection may close.
  bool finished() const;
  std::size_t open_calls() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// A grpc-timeout header ("1S", "250m", up to 8 digits and a unit of H M S m u n); nullopt
// when it is malformed.
std::optional<std::chrono::nanoseconds> parse_grpc_timeout(std::string_view text);
// grpc-message's encoding: bytes outside printable ASCII, and '%', as %XX.
std::string grpc_message_encoded(std::string_view text);

}  // namespace mg::gateway
