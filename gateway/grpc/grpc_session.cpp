// One connection's gRPC calls on nghttp2 (grpc_session.h). The wire format is gRPC's
// "PROTOCOL-HTTP2": a POST with content-type application/grpc, messages framed by a flag
// byte and a 4-byte big-endian length, the status in trailers (or, for a call that ends
// before any message, in the response headers alone: "Trailers-Only").
#include "gateway/grpc/grpc_session.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <limits>
#include <unordered_map>

#include "gateway/grpc/grpc_calls.h"

namespace mg::gateway {
namespace {

using namespace wire;  // status codes, refusal()

constexpr std::size_t kPrefix = 5;  // flag byte, 4-byte length
// Connection window and each stream's: large enough that 64 calls of a few KiB, or one of
// several MiB, flow without waiting for WINDOW_UPDATEs (the per-stream buffering is
// bounded by max_message_bytes and the server's budget, not by the window).
constexpr int32_t kStreamWindow = 1 << 20;
constexpr int32_t kConnectionWindow = 16 << 20;
// Bytes taken from nghttp2 per take_output(): frames beyond wait for the next write.
constexpr std::size_t kOutputChunk = 256 * 1024;

struct Call {
  int32_t id = 0;
  Rpc rpc = Rpc::kUnknown;
  std::string path, method, content_type;
  std::vector<std::pair<std::string, std::string>> metadata;
  std::size_t metadata_bytes = 0;
  std::optional<std::chrono::steady_clock::time_point> deadline;
  std::optional<CallStatus> refusal;  // found in the headers: answered when they end

  std::string inbound;              // bytes of the message not complete yet
  std::size_t reserved = 0;         // of the server's budget: inbound and waiting bytes
  std::deque<std::string> waiting;  // whole messages not routed yet
  int messages = 0;
  bool client_done = false;  // END_STREAM received
  bool routing = false;      // a request is with the router
  bool ended = false;        // the final status is decided
  std::string call_id;       // the routed request's id (a stream's errors carry it)

  bool response_started = false;
  std::string outbound;  // framed answers not yet taken by nghttp2
  std::size_t outbound_taken = 0;
  std::vector<std::shared_ptr<void>> after_sent;  // the answers' after_sent, until taken
  std::optional<CallStatus> final_status;         // sent as trailers once outbound is taken
};

nghttp2_nv header(const std::string& name, const std::string& value) {
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
          NGHTTP2_NV_FLAG_NONE};
}

// grpc-status, grpc-message and the status's own trailers, as name/value strings.
std::vector<std::pair<std::string, std::string>> status_fields(const CallStatus& s) {
  std::vector<std::pair<std::string, std::string>> fields;
  fields.emplace_back("grpc-status", std::to_string(s.code));
  if (!s.message.empty()) fields.emplace_back("grpc-message", grpc_message_encoded(s.message));
  for (const auto& [key, value] : s.trailers) fields.emplace_back(key, value);
  return fields;
}

std::vector<nghttp2_nv> headers_of(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::vector<nghttp2_nv> nv;
  nv.reserve(fields.size());
  for (const auto& [name, value] : fields) nv.push_back(header(name, value));
  return nv;
}

const std::string kStatus = ":status", k200 = "200", kContentType = "content-type",
                  kGrpcType = "application/grpc";

}  // namespace

struct GrpcSession::Impl {
  GrpcSessionLimits limits;
  nghttp2_session* session = nullptr;
  std::unordered_map<int32_t, Call> calls;
  std::vector<GrpcRequest> ready;
  bool ping_outstanding = false;
  bool broken = false;
  std::vector<int32_t> drained;  // streams whose held answers nghttp2 took: route on

  Call* find(int32_t id) {
    auto it = calls.find(id);
    return it == calls.end() ? nullptr : &it->second;
  }

  // --- budget of buffered request bytes --------------------------------------------------

  bool reserve(Call& call, std::size_t bytes) {
    if (limits.buffered == nullptr) return true;
    std::size_t now = limits.buffered->load();
    do {
      if (now > 0 && now + bytes > limits.buffered_budget) return false;
    } while (!limits.buffered->compare_exchange_weak(now, now + bytes));
    call.reserved += bytes;
    return true;
  }
  // Gives back `bytes` of the call's reservation (all of it by default).
  void release(Call& call, std::size_t bytes = std::numeric_limits<std::size_t>::max()) {
    bytes = std::min(bytes, call.reserved);
    if (limits.buffered != nullptr && bytes > 0) *limits.buffered -= bytes;
    call.reserved -= bytes;
  }

  // --- answers -----------------------------------------------------------------------------

  void start_or_resume(Call& call) {
    if (call.response_started) {
      nghttp2_session_resume_data(session, call.id);  // fails harmlessly when not deferred
      return;
    }
    call.response_started = true;
    const nghttp2_nv nv[] = {header(kStatus, k200), header(kContentType, kGrpcType)};
    nghttp2_data_provider provider{};
    provider.read_callback = &Impl::read_answer;
    nghttp2_submit_response(session, call.id, nv, 2, &provider);
  }

  void send_message(Call& call, std::string_view message) {
    const auto size = static_cast<uint32_t>(message.size());
    const char prefix[kPrefix] = {0, static_cast<char>(size >> 24), static_cast<char>(size >> 16),
                                  static_cast<char>(size >> 8), static_cast<char>(size)};
    call.outbound.append(prefix, kPrefix);
    call.outbound.append(message);
    start_or_resume(call);
  }

  // Counts a refusal made here (not by the router, which counts its own).
  void count(const CallStatus& s) {
    if (!limits.on_refusal) return;
    for (const auto& [key, value] : s.trailers)
      if (key == "mg-error-code") return limits.on_refusal(value);
  }
  // Ends the call with a refusal of its own making.
  void refuse(Call& call, const CallStatus& s) {
    count(s);
    finish(call, s);
  }

  // Ends the call with `s`: as trailers after what was sent, or as the only headers.
  void finish(Call& call, const CallStatus& s) {
    if (call.ended) return;
    call.ended = true;
    call.waiting.clear();
    call.inbound.clear();
    call.inbound.shrink_to_fit();
    release(call);
    if (call.response_started) {
      call.final_status = s;
      nghttp2_session_resume_data(session, call.id);
      return;
    }
    call.response_started = true;
    auto fields = status_fields(s);
    fields.insert(fields.begin(), {{kStatus, k200}, {kContentType, kGrpcType}});
    const auto nv = headers_of(fields);
    nghttp2_submit_response(session, call.id, nv.data(), nv.size(), nullptr);
  }

  // A plain HTTP answer to what is not a gRPC call (another method or content type).
  void refuse_http(Call& call, const std::string& code) {
    call.ended = true;
    call.response_started = true;
    const nghttp2_nv nv[] = {header(kStatus, code)};
    nghttp2_submit_response(session, call.id, nv, 1, nullptr);
  }

  static ssize_t read_answer(nghttp2_session* session, int32_t stream_id, uint8_t* buffer,
                             size_t length, uint32_t* flags, nghttp2_data_source*, void* self) {
    Call* call = static_cast<Impl*>(self)->find(stream_id);
    if (call == nullptr) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    const std::size_t n = std::min(length, call->outbound.size() - call->outbound_taken);
    if (n > 0) std::memcpy(buffer, call->outbound.data() + call->outbound_taken, n);
    call->outbound_taken += n;
    if (call->outbound_taken < call->outbound.size()) return static_cast<ssize_t>(n);
    const bool held = call->outbound.size() > static_cast<Impl*>(self)->limits.stream_answers_limit;
    call->outbound.clear();
    call->outbound_taken = 0;
    call->after_sent.clear();  // the answers are the connection's now
    if (held) static_cast<Impl*>(self)->drained.push_back(stream_id);
    if (call->final_status) {
      *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
      const auto fields = status_fields(*call->final_status);
      const auto nv = headers_of(fields);
      nghttp2_submit_trailer(session, stream_id, nv.data(), nv.size());
    } else if (n == 0) {
      return NGHTTP2_ERR_DEFERRED;  // resumed by the next answer
    }
    return static_cast<ssize_t>(n);
  }

  // --- requests ----------------------------------------------------------------------------

  // The next whole message goes to the router (or, refused by the translation, is answered
  // at once); a stream whose client is done and whose messages are answered ends OK.
  void route_next(Call& call) {
    while (!call.ended && !call.routing && !call.waiting.empty() &&
           call.outbound.size() - call.outbound_taken <= limits.stream_answers_limit) {
      std::string message = std::move(call.waiting.front());
      call.waiting.pop_front();
      release(call, kPrefix + message.size());  // the router's to count now (as a body is)
      Translated translated = translate_request(call.rpc, call.path, message, call.metadata);
      if (!translated.refusal.ok()) {
        if (call.rpc != Rpc::kModelStreamInfer) return refuse(call, translated.refusal);
        count(translated.refusal);
        send_message(call, stream_error(translated.refusal, translated.call_id));
        continue;
      }
      translated.request.deadline = call.deadline;
      call.call_id = std::move(translated.call_id);
      call.routing = true;
      ready.push_back({call.id, std::move(translated.request)});
    }
    if (!call.ended && !call.routing && call.waiting.empty() && call.client_done &&
        call.rpc == Rpc::kModelStreamInfer) {
      finish(call, CallStatus{});
    }
  }

  void headers_done(Call& call) {
    if (call.method != "POST") return refuse_http(call, "405");
    if (!call.content_type.starts_with(kGrpcType)) return refuse_http(call, "415");
    if (call.refusal) return refuse(call, *call.refusal);
    call.rpc = rpc_of(call.path);
    if (call.rpc == Rpc::kUnknown) {
      return finish(call,
                    {kUnimplemented, "unimplemented: ModelGate does not serve " + call.path, {}});
    }
  }

  void data(Call& call, const uint8_t* bytes, std::size_t size) {
    if (call.ended || call.rpc == Rpc::kUnknown) return;  // answered already: ignored
    if (!reserve(call, size)) {
      return refuse(call, refusal(kUnavailable, "overloaded",
                                  "too many request bytes are buffered; retry shortly"));
    }
    call.inbound.append(reinterpret_cast<const char*>(bytes), size);
    std::size_t at = 0;
    while (call.inbound.size() - at >= kPrefix) {
      const auto* p = reinterpret_cast<const unsigned char*>(call.inbound.data() + at);
      const std::size_t length = (std::size_t{p[1]} << 24) | (std::size_t{p[2]} << 16) |
                                 (std::size_t{p[3]} << 8) | std::size_t{p[4]};
      if (p[0] != 0) {
        return refuse(call, refusal(kUnimplemented, "unimplemented",
                                    "compressed messages are not accepted (grpc-encoding "
                                    "identity only)"));
      }
      if (length > limits.max_message_bytes) {
        return refuse(
            call, refusal(kResourceExhausted, "payload_too_large",
                          "the request message of " + std::to_string(length) + " bytes exceeds " +
                              std::to_string(limits.max_message_bytes) + " bytes"));
      }
      if (call.inbound.size() - at - kPrefix < length) break;
      if (++call.messages > 1 && call.rpc != Rpc::kModelStreamInfer) {
        return refuse(call, refusal(kInvalidArgument, "bad_request",
                                    "a unary call carried more than one request message"));
      }
      call.waiting.emplace_back(call.inbound, at + kPrefix, length);
      at += kPrefix + length;
    }
    call.inbound.erase(0, at);
    if (call.rpc == Rpc::kModelStreamInfer) route_next(call);
  }

  void client_done(Call& call) {
    call.client_done = true;
    if (call.ended) return;
    if (!call.inbound.empty()) {
      return refuse(call, refusal(kInvalidArgument, "bad_request",
                                  "the call ended inside a request message"));
    }
    if (call.rpc != Rpc::kModelStreamInfer && call.waiting.empty()) {
      return refuse(
          call, refusal(kInvalidArgument, "bad_request", "the call carried no request message"));
    }
    route_next(call);
  }

  // --- nghttp2's callbacks -----------------------------------------------------------------

  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* self) {
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
      Call& call = static_cast<Impl*>(self)->calls[frame->hd.stream_id];
      call.id = frame->hd.stream_id;
    }
    return 0;
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                       size_t name_length, const uint8_t* value, size_t value_length, uint8_t,
                       void* self) {
    auto& impl = *static_cast<Impl*>(self);
    Call* call = impl.find(frame->hd.stream_id);
    if (call == nullptr || frame->headers.cat != NGHTTP2_HCAT_REQUEST || call->refusal) return 0;
    call->metadata_bytes += name_length + value_length;
    if (call->metadata_bytes > impl.limits.metadata_limit) {
      call->refusal = refusal(
          kResourceExhausted, "payload_too_large",
          "the call's metadata exceed " + std::to_string(impl.limits.metadata_limit) + " bytes");
      return 0;
    }
    const std::string_view key(reinterpret_cast<const char*>(name), name_length);
    std::string text(reinterpret_cast<const char*>(value), value_length);
    if (key == ":path") {
      call->path = std::move(text);
    } else if (key == ":method") {
      call->method = std::move(text);
    } else if (key == "content-type") {
      call->content_type = std::move(text);
    } else if (key == "grpc-timeout") {
      const auto timeout = parse_grpc_timeout(text);
      if (!timeout) {
        call->refusal = refusal(kInvalidArgument, "bad_request",
                                "grpc-timeout '" + text + "' is not a gRPC timeout");
      } else {
        call->deadline = std::chrono::steady_clock::now() +
                         std::chrono::duration_cast<std::chrono::steady_clock::duration>(*timeout);
      }
    } else if (!key.starts_with(":")) {
      call->metadata.emplace_back(key, std::move(text));
    }
    return 0;
  }

  static int on_frame(nghttp2_session*, const nghttp2_frame* frame, void* self) {
    auto& impl = *static_cast<Impl*>(self);
    if (frame->hd.type == NGHTTP2_PING && (frame->hd.flags & NGHTTP2_FLAG_ACK)) {
      impl.ping_outstanding = false;
      return 0;
    }
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
    Call* call = impl.find(frame->hd.stream_id);
    if (call == nullptr) return 0;
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
      impl.headers_done(*call);
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) impl.client_done(*call);
    return 0;
  }

  static int on_data(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data,
                     size_t length, void* self) {
    auto& impl = *static_cast<Impl*>(self);
    if (Call* call = impl.find(stream_id)) impl.data(*call, data, length);
    return 0;
  }

  static int on_close(nghttp2_session*, int32_t stream_id, uint32_t, void* self) {
    auto& impl = *static_cast<Impl*>(self);
    if (Call* call = impl.find(stream_id)) {
      impl.release(*call);
      impl.calls.erase(stream_id);  // an answer still with the router is dropped
    }
    return 0;
  }
};

GrpcSession::GrpcSession(GrpcSessionLimits limits) : impl_(std::make_unique<Impl>()) {
  impl_->limits = limits;
  nghttp2_session_callbacks* callbacks = nullptr;
  nghttp2_session_callbacks_new(&callbacks);
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, &Impl::on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, &Impl::on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &Impl::on_frame);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &Impl::on_data);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &Impl::on_close);
  const int made = nghttp2_session_server_new(&impl_->session, callbacks, impl_.get());
  nghttp2_session_callbacks_del(callbacks);
  if (made != 0) throw std::bad_alloc();
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, limits.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, kStreamWindow},
  };
  nghttp2_submit_settings(impl_->session, NGHTTP2_FLAG_NONE, settings, 2);
  nghttp2_session_set_local_window_size(impl_->session, NGHTTP2_FLAG_NONE, 0, kConnectionWindow);
}

GrpcSession::~GrpcSession() {
  for (auto& [id, call] : impl_->calls) impl_->release(call);
  nghttp2_session_del(impl_->session);
}

bool GrpcSession::receive(std::string_view bytes) {
  if (impl_->broken) return false;
  const ssize_t read = nghttp2_session_mem_recv(
      impl_->session, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  if (read < 0) impl_->broken = true;
  return !impl_->broken;
}

std::vector<GrpcRequest> GrpcSession::take_requests() { return std::exchange(impl_->ready, {}); }

void GrpcSession::answer(int32_t stream_id, HttpResponse response) {
  Call* call = impl_->find(stream_id);
  if (call == nullptr || call->ended) return;
  call->routing = false;
  CallAnswer answer = translate_response(call->rpc, response, call->call_id);
  if (!answer.status.ok()) return impl_->finish(*call, answer.status);
  call->after_sent.push_back(std::move(response.after_sent));
  impl_->send_message(*call, answer.message);
  if (call->rpc == Rpc::kModelStreamInfer) return impl_->route_next(*call);
  impl_->finish(*call, CallStatus{});
}

void GrpcSession::refuse(int32_t stream_id, const CallStatus& status) {
  Call* call = impl_->find(stream_id);
  if (call == nullptr) return;
  call->routing = false;
  impl_->finish(*call, status);
}

void GrpcSession::take_output(std::string& out) {
  while (!impl_->broken && out.size() < kOutputChunk) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(impl_->session, &data);
    if (n < 0) impl_->broken = true;
    if (n <= 0) break;
    out.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
  }
  for (const int32_t id : std::exchange(impl_->drained, {}))
    if (Call* call = impl_->find(id)) impl_->route_next(*call);
}

bool GrpcSession::has_requests() const { return !impl_->ready.empty(); }

void GrpcSession::ping() {
  impl_->ping_outstanding = true;
  nghttp2_submit_ping(impl_->session, NGHTTP2_FLAG_NONE, nullptr);
}

bool GrpcSession::ping_answered() const { return !impl_->ping_outstanding; }

void GrpcSession::go_away() {
  nghttp2_submit_goaway(impl_->session, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(impl_->session), NGHTTP2_NO_ERROR,
                        nullptr, 0);
}

bool GrpcSession::finished() const {
  return impl_->broken || (nghttp2_session_want_read(impl_->session) == 0 &&
                           nghttp2_session_want_write(impl_->session) == 0);
}

std::size_t GrpcSession::open_calls() const { return impl_->calls.size(); }

std::optional<std::chrono::nanoseconds> parse_grpc_timeout(std::string_view text) {
  if (text.size() < 2 || text.size() > 9) return std::nullopt;
  int64_t value = 0;
  for (char c : text.substr(0, text.size() - 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  using namespace std::chrono;
  switch (text.back()) {
    case 'H':
      return duration_cast<nanoseconds>(hours(value));
    case 'M':
      return duration_cast<nanoseconds>(minutes(value));
    case 'S':
      return duration_cast<nanoseconds>(seconds(value));
    case 'm':
      return duration_cast<nanoseconds>(milliseconds(value));
    case 'u':
      return duration_cast<nanoseconds>(microseconds(value));
    case 'n':
      return nanoseconds(value);
    default:
      return std::nullopt;
  }
}

std::string grpc_message_encoded(std::string_view text) {
  return percent_encoded(text, [](unsigned char c) { return c >= 0x20 && c <= 0x7e && c != '%'; });
}

}  // namespace mg::gateway
