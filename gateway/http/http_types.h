#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mg::gateway {

// An HTTP request as the router sees it: no sockets, no Beast types.
struct HttpRequest {
  std::string method;  // "GET", "POST", …
  std::string target;  // path and query, exactly as sent
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // What the StreamOpener decided from this request's head (StreamDecision::head_state),
  // handed back with the whole request so that work done on the head (checking a bearer
  // key) is not done twice. Opaque to the HTTP layer; null when there was none.
  std::shared_ptr<const void> head_state;
  // What the caller's signature covers when that is not this request itself: a gRPC call
  // is routed as the HTTP request it translates to, but its caller signed the call
  // (method POST, the RPC's full path, the serialized request message; docs/grpc.md).
  struct SignedAs {
    std::string target;
    std::string body_sha256_hex;
  };
  std::optional<SignedAs> signed_as;
  // How the request arrived, for the access log and the metrics: "http" or "grpc".
  std::string_view protocol = "http";
  // The caller's own deadline (a gRPC call's): an inference still waiting for its batch
  // when it passes is taken out and refused, never computed. None: only the server's
  // limits.inference_timeout_ms applies.
  std::optional<std::chrono::steady_clock::time_point> deadline;

  // The first header with this name (case-insensitive), or "".
  std::string_view header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Static text only (a literal): a pointer, not a std::string, because "application/json"
  // is one byte over std::string's inline capacity, so each response allocated for it.
  // A response that needs a computed type sets a Content-Type header instead.
  const char* content_type = "application/json";
  // Work that must not delay this answer (an inference's copy for the model's shadow):
  // it runs when the last holder lets go. The servers hold it until the response has been
  // written, so it runs once the caller has the answer; a response dropped unsent runs it
  // then. Made with after_sent_job().
  std::shared_ptr<void> after_sent;
};

// An HttpResponse::after_sent that calls `job` once; `job` must not throw.
std::shared_ptr<void> after_sent_job(std::function<void()> job);

// A request body consumed as it arrives (model uploads) instead of buffered whole, so a
// large body never sits in memory.
class BodySink {
 public:
  virtual ~BodySink() = default;
  // Each piece of the body in order, on a socket thread. false stops the upload: the
  // server then calls finish(false) for the response and closes the connection.
  virtual bool write(std::span<const char> piece) = 0;
  // Once, on the handler pool: complete is true when the whole body arrived. The sink is
  // destroyed without finish() when the client goes away, and must then discard its work.
  virtual HttpResponse finish(bool complete) = 0;
};

// What to do with a request once its head (method, target, headers; empty body) is read:
// stream its body into `sink`, answer `refusal` right away without reading the body, or —
// neither set — buffer the body and route the request as usual.
struct StreamDecision {
  std::unique_ptr<BodySink> sink;
  std::optional<HttpResponse> refusal;
  std::shared_ptr<const void> head_state;  // given back as HttpRequest::head_state
};

}  // namespace mg::gateway
