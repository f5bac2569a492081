#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "gateway/http/http_types.h"

namespace mg::gateway {

struct HttpsServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8443;               // 0 picks a free port (see HttpsServer::port)
  std::filesystem::path certificate;  // PEM
  std::filesystem::path private_key;  // PEM
  int io_threads = 2;                 // socket work
  int handler_threads = 2;            // request handling (inference) off the socket threads
  std::size_t header_limit = 16 * 1024;
  std::size_t body_limit = 64 * 1024 * 1024;   // larger bodies get 413
  uint64_t upload_limit = uint64_t{16} << 30;  // streamed bodies (uploads): larger get 413
  std::chrono::seconds handshake_timeout{5};
  std::chrono::seconds read_timeout{
      30};  // per request (headers and body), keep-alive wait included
  std::chrono::seconds write_timeout{30};
  std::chrono::seconds drain_timeout{30};  // longest wait for in-flight requests on stop
  // Open connections beyond this wait in the kernel's accept queue until one closes, so
  // a flood of idle connections cannot exhaust file descriptors. Also capped below the
  // process's open-file limit at start.
  std::size_t max_connections = 10000;
  // Requests read and waiting for a handler thread (inference off the socket threads).
  // Beyond this many the server answers 503 overloaded with Retry-After at once instead
  // of queueing without bound; fast models run inline on the socket threads and are
  // bounded by the connections instead.
  std::size_t max_queued_requests = 256;
  // Request bodies buffered at once, all connections together (each counted at its
  // Content-Length, a chunked one at body_limit, from its head until its answer). A
  // request that would pass it is answered 503 overloaded unread, unless nothing else is
  // buffered (one request at a time always gets through).
  std::size_t buffered_body_budget = std::size_t{512} << 20;
  // Open connections from one client address (0: no cap). Behind a load balancer every
  // connection comes from it: raise or switch off there.
  std::size_t max_connections_per_address = 256;
  std::function<void()> on_shed;  // called for each request refused that way (metrics)
  // Requests it accepts (the admin API) run on their own small pool, never shed and never
  // queued behind inference: an operator can revoke a key while the server is flooded.
  std::function<bool(const HttpRequest&)> is_control;
  int control_threads = 2;
  // Called with the error code of every answer the server gives on its own, before any
  // router sees the request: "payload_too_large" (413), "overloaded" (503) (metrics).
  std::function<void(const char* code)> on_refusal;
  bool stop_on_signals = false;  // SIGTERM / SIGINT call stop()
};

// The HTTPS listener (Boost.Beast + OpenSSL, TLS 1.2+). One io_context per socket thread;
// each connection lives on one of them (round robin), so its handlers never race; every read and
// write has a deadline, so a slow client cannot hold a thread or grow memory without bound;
// requests over the header or body limit are answered 413 and the connection closed; keep-alive is
// honoured, and so is Connection: close. Requests are handled one at a time per connection;
// "Expect: 100-continue" is answered once the head is accepted. Streamed bodies arrive in 1 MiB
// pieces under the same per-read deadline, so memory per upload stays at one piece. The
// InlinePolicy decides which requests are answered on the socket thread that read them (by
// default GETs, which only read memory); the rest run on the handler pool. Beast and Asio
// stay inside https_server.cpp.
class HttpsServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;
  // Sees every request's head first (on a socket thread) and may take its body as a
  // stream or refuse it unread; see StreamDecision.
  using StreamOpener = std::function<StreamDecision(const HttpRequest& head)>;

  // Whether a (buffered) request may be handled on the socket thread that read it rather
  // than on the handler pool; without one, only GETs are.
  using InlinePolicy = std::function<bool(const HttpRequest&)>;
  // Answers a request the InlinePolicy keeps on its socket thread: calls `respond` once,
  // at once or later from that thread's EventLoop (EventLoop::current() while it runs).
  // Without one, Handler answers them.
  using InlineHandler =
      std::function<void(HttpRequest request, std::function<void(HttpResponse)> respond)>;

  // Binds and listens; throws std::runtime_error when the address, certificate or key
  // cannot be used.
  HttpsServer(HttpsServerOptions options, Handler handler, StreamOpener opener = nullptr,
              InlinePolicy inline_policy = nullptr, InlineHandler inline_handler = nullptr);
  ~HttpsServer();
  HttpsServer(const HttpsServer&) = delete;
  HttpsServer& operator=(const HttpsServer&) = delete;

  uint16_t port() const;  // the bound port
  // Serves until stop(); returns after in-flight requests have been answered.
  void run();
  // Stops accepting, lets in-flight requests finish, then makes run() return. Safe from
  // any thread and from a signal-handling context set up by the caller.
  void stop();

  struct Impl;  // opaque: defined in https_server.cpp, where the connection sessions see it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace mg::gateway
