#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "gateway/http/http_types.h"

namespace mg::gateway {

struct GrpcServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8444;               // 0 picks a free port (see GrpcServer::port)
  std::filesystem::path certificate;  // PEM, the HTTPS listener's
  std::filesystem::path private_key;  // PEM
  // Largest request message: a larger one is refused RESOURCE_EXHAUSTED from its length
  // prefix, before it is read (the HTTPS body limit's counterpart).
  std::size_t max_message_bytes = std::size_t{64} << 20;
  // Socket threads, one io_context each: they read and write every call and answer what
  // the router answers at once (the HTTPS listener's io_threads).
  int io_threads = 2;
  // Threads that route calls (inference waits in a model's batch queue on them), and calls
  // read and waiting for one: beyond this many a call is answered UNAVAILABLE overloaded
  // at once, as the HTTPS listener answers 503.
  int handler_threads = 32;
  std::size_t max_queued_calls = 256;
  // HTTP/2 limits: concurrent streams per connection; keepalive pings to find dead peers
  // (sent after keepalive_time without a frame from the client; no ACK within
  // keepalive_timeout closes the connection).
  uint32_t max_concurrent_streams = 256;
  // Open connections: one beyond is closed as soon as it is accepted, so a flood of idle
  // connections cannot take the process's file descriptors. gRPC clients multiplex their
  // calls over a few connections; a thousand is many clients.
  std::size_t max_connections = 1000;
  // Open connections from one client address (0: no cap), as the HTTPS listener's.
  std::size_t max_connections_per_address = 256;
  std::chrono::milliseconds keepalive_time{60'000};
  std::chrono::milliseconds keepalive_timeout{20'000};
  std::chrono::seconds handshake_timeout{5};
  // A write the client has not taken for this long (checked at each keepalive tick) closes
  // the connection: a client that sends calls but never reads their answers.
  std::chrono::seconds write_timeout{30};
  std::chrono::seconds drain_timeout{30};  // longest wait for in-flight calls on stop
  std::function<void()> on_shed;           // each call refused as overloaded (metrics)
  // Each refusal the listener answers itself, by code word: a connection over a cap
  // ("too_many_connections"), a call refused before routing ("payload_too_large",
  // "bad_request", "overloaded"…; grpc_session.h) (metrics).
  std::function<void(const std::string& code)> on_refusal;
  // Whether a call's request may be answered on its poller thread (what the router answers
  // at once: router.h answers_at_once); without one, every call goes to a handler thread.
  std::function<bool(const HttpRequest&)> runs_inline;
};

// The KServe v2 gRPC listener: gRPC's wire format over HTTP/2 (nghttp2, grpc_session.h)
// on TLS 1.2+ with the server's certificate (Asio + OpenSSL, ALPN "h2"). Every call of
// inference.GRPCInferenceService is translated into the HTTP request it stands for
// (grpc_calls.h) and answered by `handler` — the same router as HTTPS — so tenancy,
// signing, limits, usage, metrics and the access log are the same on both. RPCs it does
// not serve answer UNIMPLEMENTED. A call whose deadline has passed before it is routed is
// answered DEADLINE_EXCEEDED. Asio stays inside grpc_server.cpp, nghttp2 inside
// grpc_session.cpp, protobuf inside grpc_requests.cpp and grpc_answers.cpp.
class GrpcServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;
  // Binds and starts serving; throws std::runtime_error when the address, certificate or
  // key cannot be used.
  GrpcServer(GrpcServerOptions options, Handler handler);
  ~GrpcServer();  // stop()
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  uint16_t port() const;  // the bound port
  // Stops accepting, lets in-flight calls finish (up to drain_timeout). Idempotent.
  void stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace mg::gateway
