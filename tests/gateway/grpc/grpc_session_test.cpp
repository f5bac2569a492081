// The gRPC listener's HTTP/2 side (gateway/grpc/grpc_session.h) against a real HTTP/2
// client (nghttp2's client session) in process: what grpcio would never send — compressed
// or oversized messages, calls cut short, bad timeouts, other methods — and how calls are
// routed and answered.
#include "gateway/grpc/grpc_session.h"

#include <grpc_service.pb.h>
#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <map>

#include "tests/gateway/grpc/h2_test_client.h"

namespace mg::gateway {
namespace {

constexpr char kService[] = "/inference.GRPCInferenceService/";

// What the client received on one stream.
struct Answer {
  std::map<std::string, std::string> headers, trailers;
  std::string data;
  bool closed = false;
  uint32_t reset = 0;  // RST_STREAM's error code
  std::string status() const {
    auto it = trailers.find("grpc-status");
    if (it != trailers.end()) return it->second;
    it = headers.find("grpc-status");  // Trailers-Only
    return it == headers.end() ? "" : it->second;
  }
  // The answer's messages, unframed.
  std::vector<std::string> messages() const {
    std::vector<std::string> out;
    for (std::size_t at = 0; at + 5 <= data.size();) {
      const auto* p = reinterpret_cast<const unsigned char*>(data.data() + at);
      const std::size_t n = (std::size_t{p[1]} << 24) | (p[2] << 16) | (p[3] << 8) | p[4];
      out.emplace_back(data.substr(at + 5, n));
      at += 5 + n;
    }
    return out;
  }
};

std::string framed(const std::string& message, uint8_t flag = 0) {
  const auto n = static_cast<uint32_t>(message.size());
  std::string out{static_cast<char>(flag), static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                  static_cast<char>(n >> 8), static_cast<char>(n)};
  return out + message;
}

// An HTTP/2 client session wired to a GrpcSession through memory.
class Client {
 public:
  // window > 0: each call takes at most that many bytes of answers until open_window().
  explicit Client(GrpcSessionLimits limits = {}, uint32_t window = 0) : server(limits) {
    nghttp2_session_callbacks* callbacks = nullptr;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, &Client::on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &Client::on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &Client::on_close);
    nghttp2_option* option = nullptr;
    nghttp2_option_new(&option);
    nghttp2_option_set_no_auto_window_update(option, window > 0 ? 1 : 0);
    nghttp2_session_client_new2(&session_, callbacks, this, option);
    nghttp2_option_del(option);
    nghttp2_session_callbacks_del(callbacks);
    const nghttp2_settings_entry small{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, window};
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, &small, window > 0 ? 1 : 0);
    pump();
  }

  void open_window(int32_t id, int32_t bytes) {
    nghttp2_submit_window_update(session_, NGHTTP2_FLAG_NONE, id, bytes);
    nghttp2_submit_window_update(session_, NGHTTP2_FLAG_NONE, 0, bytes);
    pump();
  }
  ~Client() { nghttp2_session_del(session_); }

  // Opens a call; `body` is sent as DATA, ending the client's side when `end`.
  int32_t call(const std::string& path, const std::string& body, bool end = true,
               std::vector<std::pair<std::string, std::string>> extra = {},
               const std::string& method = "POST") {
    std::vector<std::pair<std::string, std::string>> fields = {{":method", method},
                                                               {":scheme", "https"},
                                                               {":authority", "localhost"},
                                                               {":path", path},
                                                               {"content-type", "application/grpc"},
                                                               {"te", "trailers"}};
    for (auto& field : extra) {
      bool replaced = false;
      for (auto& f : fields)
        if (f.first == field.first) f.second = field.second, replaced = true;
      if (!replaced) fields.push_back(field);
    }
    std::vector<nghttp2_nv> nv = testing::header_array(fields);
    nghttp2_data_provider provider{};
    provider.read_callback = &Client::read_body;
    const int32_t id =
        nghttp2_submit_request(session_, nullptr, nv.data(), nv.size(), &provider, nullptr);
    pending_[id] = body;
    ending_[id] = end;
    pump();
    return id;
  }

  void send(int32_t id, const std::string& bytes, bool end) {
    pending_[id] += bytes;
    ending_[id] = end;
    nghttp2_data_provider provider{};
    provider.read_callback = &Client::read_body;
    nghttp2_submit_data(session_, end ? NGHTTP2_FLAG_END_STREAM : NGHTTP2_FLAG_NONE, id, &provider);
    pump();
  }

  void reset(int32_t id) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    pump();
  }

  // Moves bytes both ways until neither side has anything to say.
  void pump() {
    for (int round = 0; round < 100; ++round) {
      const uint8_t* data = nullptr;
      std::string to_server;
      for (ssize_t n; (n = nghttp2_session_mem_send(session_, &data)) > 0;)
        to_server.append(reinterpret_cast<const char*>(data), n);
      if (!to_server.empty()) server_ok = server.receive(to_server) && server_ok;
      std::string to_client;
      server.take_output(to_client);
      if (!to_client.empty()) {
        nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(to_client.data()),
                                 to_client.size());
      }
      if (to_server.empty() && to_client.empty()) return;
    }
  }

  // Sends the raw bytes to the server, as a client that is not HTTP/2 would.
  bool raw(const std::string& bytes) { return server.receive(bytes); }

  GrpcSession server;
  bool server_ok = true;
  std::map<int32_t, Answer> answers;

 private:
  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                       size_t name_length, const uint8_t* value, size_t value_length, uint8_t,
                       void* self) {
    auto& answer = static_cast<Client*>(self)->answers[frame->hd.stream_id];
    auto& into = frame->headers.cat == NGHTTP2_HCAT_HEADERS ? answer.trailers : answer.headers;
    into[std::string(reinterpret_cast<const char*>(name), name_length)] =
        std::string(reinterpret_cast<const char*>(value), value_length);
    return 0;
  }
  static int on_data(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t length,
                     void* self) {
    static_cast<Client*>(self)->answers[id].data.append(reinterpret_cast<const char*>(data),
                                                        length);
    return 0;
  }
  static int on_close(nghttp2_session*, int32_t id, uint32_t error, void* self) {
    auto& answer = static_cast<Client*>(self)->answers[id];
    answer.closed = true;
    answer.reset = error;
    return 0;
  }
  static ssize_t read_body(nghttp2_session*, int32_t id, uint8_t* buffer, size_t length,
                           uint32_t* flags, nghttp2_data_source*, void* self) {
    auto& client = *static_cast<Client*>(self);
    const ssize_t n = testing::take_pending(client.pending_[id], buffer, length, flags);
    if ((*flags & NGHTTP2_DATA_FLAG_EOF) && !client.ending_[id]) {
      *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
    }
    return n;
  }

  nghttp2_session* session_ = nullptr;
  std::map<int32_t, std::string> pending_;
  std::map<int32_t, bool> ending_;
};

std::string infer_request(const std::string& id) {
  inference::ModelInferRequest request;
  request.set_model_name("m");
  request.set_id(id);
  auto* input = request.add_inputs();
  input->set_name("x");
  input->set_datatype("FP32");
  input->add_shape(1);
  request.add_raw_input_contents(std::string(4, '\0'));
  return request.SerializeAsString();
}

HttpResponse infer_answer(const std::string& id) {
  HttpResponse response;
  response.body = R"({"model_name":"m","id":")" + id + R"(","outputs":[]})";
  return response;
}

TEST(GrpcSession, AUnaryCallIsRoutedOnceAndAnsweredWithItsStatusInTrailers) {
  Client client;
  const int32_t id = client.call(std::string(kService) + "ServerLive", framed(""));
  auto ready = client.server.take_requests();
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].stream_id, id);
  EXPECT_EQ(ready[0].request.target, "/v2/health/live");
  EXPECT_EQ(ready[0].request.protocol, "grpc");
  EXPECT_FALSE(ready[0].request.deadline.has_value());
  client.server.answer(id, HttpResponse{});
  client.pump();
  const Answer& answer = client.answers[id];
  EXPECT_EQ(answer.headers.at(":status"), "200");
  EXPECT_EQ(answer.headers.at("content-type"), "application/grpc");
  EXPECT_EQ(answer.status(), "0");
  ASSERT_EQ(answer.messages().size(), 1u);
  inference::ServerLiveResponse live;
  ASSERT_TRUE(live.ParseFromString(answer.messages()[0]));
  EXPECT_TRUE(live.live());
  EXPECT_TRUE(answer.closed);
  EXPECT_EQ(client.server.open_calls(), 0u);
}

TEST(GrpcSession, ARouterErrorIsTheCallsStatusWithItsCodeWord) {
  Client client;
  const int32_t id = client.call(std::string(kService) + "ModelInfer", framed(infer_request("a")));
  ASSERT_EQ(client.server.take_requests().size(), 1u);
  HttpResponse refused;
  refused.status = 404;
  refused.body = R"({"error":"no model 'm'","code":"model_not_found"})";
  client.server.answer(id, refused);
  client.pump();
  const Answer& answer = client.answers[id];
  EXPECT_EQ(answer.status(), "5");  // NOT_FOUND
  EXPECT_EQ(answer.headers.at("grpc-message"), "model_not_found: no model 'm'");
  EXPECT_EQ(answer.headers.at("mg-error-code"), "model_not_found");
  EXPECT_TRUE(answer.data.empty());
}

TEST(GrpcSession, ATimeoutBecomesTheRequestsDeadline) {
  Client client;
  const auto before = std::chrono::steady_clock::now();
  client.call(std::string(kService) + "ServerLive", framed(""), true, {{"grpc-timeout", "1500m"}});
  auto ready = client.server.take_requests();
  ASSERT_EQ(ready.size(), 1u);
  ASSERT_TRUE(ready[0].request.deadline.has_value());
  EXPECT_GE(*ready[0].request.deadline, before + std::chrono::milliseconds(1500));
  EXPECT_LE(*ready[0].request.deadline, std::chrono::steady_clock::now() + std::chrono::seconds(2));
}

TEST(GrpcSession, CallsThatAreNotWellFormedAreRefusedWithoutRouting) {
  GrpcSessionLimits limits;
  limits.max_message_bytes = 1000;
  limits.metadata_limit = 2000;
  std::vector<std::string> counted;  // what the metrics would count
  limits.on_refusal = [&counted](const std::string& code) { counted.push_back(code); };
  Client client(limits);
  const std::string live = std::string(kService) + "ServerLive";
  struct Case {
    int32_t id;
    std::string status, code;
  };
  const std::vector<Case> cases = {
      // the limit is judged from the length prefix, before the message arrives
      {client.call(live, framed(std::string(1001, 'x')).substr(0, 5), false), "8",
       "payload_too_large"},
      {client.call(live, framed("", 1)), "12", "unimplemented"},            // compressed
      {client.call(live, framed("abc").substr(0, 6)), "3", "bad_request"},  // cut short
      {client.call(live, ""), "3", "bad_request"},                          // no message
      {client.call(live, framed("") + framed("")), "3", "bad_request"},     // two messages
      {client.call(live, framed(""), true, {{"grpc-timeout", "soon"}}), "3", "bad_request"},
      {client.call(live, framed(""), true, {{"x-big", std::string(3000, 'a')}}), "8",
       "payload_too_large"},
      {client.call(std::string(kService) + "LogSettings", framed("")), "12", ""},
  };
  for (const auto& c : cases) {
    Answer& answer = client.answers[c.id];
    EXPECT_EQ(answer.status(), c.status) << "stream " << c.id;
    EXPECT_TRUE(answer.headers.count("grpc-message")) << "stream " << c.id;
    if (!c.code.empty()) {
      EXPECT_EQ(answer.headers["mg-error-code"], c.code) << "stream " << c.id;
    }
  }
  // Not gRPC at all: plain HTTP answers.
  const int32_t get = client.call(live, "", true, {}, "GET");
  const int32_t text = client.call(live, "hello", true, {{"content-type", "text/plain"}});
  // Each refusal with a code word is counted once, in order (the unknown RPC has none).
  const std::vector<std::string> expected = {"payload_too_large", "unimplemented", "bad_request",
                                             "bad_request",       "bad_request",   "bad_request",
                                             "payload_too_large"};
  EXPECT_EQ(counted, expected);
  EXPECT_EQ(client.answers[get].headers[":status"], "405");
  EXPECT_EQ(client.answers[text].headers[":status"], "415");
  EXPECT_TRUE(client.server.take_requests().empty());
  EXPECT_TRUE(client.server_ok);
}

TEST(GrpcSession, AStreamRoutesItsMessagesOneAtATimeInOrder) {
  Client client;
  const int32_t id = client.call(std::string(kService) + "ModelStreamInfer",
                                 framed(infer_request("r0")) + framed(infer_request("r1")), false);
  auto ready = client.server.take_requests();
  ASSERT_EQ(ready.size(), 1u);  // r1 waits for r0's answer
  client.server.answer(id, infer_answer("r0"));
  ready = client.server.take_requests();
  ASSERT_EQ(ready.size(), 1u);
  client.send(id, framed("not a message"), true);  // refused by the translation, in order
  client.server.answer(id, infer_answer("r1"));
  EXPECT_TRUE(client.server.take_requests().empty());
  client.pump();
  const Answer& answer = client.answers[id];
  EXPECT_EQ(answer.status(), "0");
  const auto messages = answer.messages();
  ASSERT_EQ(messages.size(), 3u);
  std::vector<std::string> ids, errors;
  for (const auto& bytes : messages) {
    inference::ModelStreamInferResponse response;
    ASSERT_TRUE(response.ParseFromString(bytes));
    ids.push_back(response.infer_response().id());
    errors.push_back(response.error_message());
  }
  EXPECT_EQ(ids[0], "r0");
  EXPECT_EQ(ids[1], "r1");
  EXPECT_EQ(errors[0], "");
  EXPECT_TRUE(errors[2].starts_with("bad_request: ")) << errors[2];
}

TEST(GrpcSession, AStreamWhoseClientDoesNotReadIsNotRoutedFurtherUntilItDoes) {
  GrpcSessionLimits limits;
  limits.stream_answers_limit = 1000;
  Client client(limits, /*window=*/100);
  std::string requests;
  for (int i = 0; i < 40; ++i) requests += framed(infer_request("r" + std::to_string(i)));
  const int32_t id = client.call(std::string(kService) + "ModelStreamInfer", requests, false);
  // Answers the router's share; each answer is ~120 bytes, the client takes 100.
  auto route_all = [&] {
    int routed = 0;
    for (auto ready = client.server.take_requests(); !ready.empty();
         ready = client.server.take_requests()) {
      for (auto& r : ready) {
        client.server.answer(r.stream_id, infer_answer(std::string(100, 'x')));
        ++routed;
      }
      client.pump();
    }
    return routed;
  };
  const int before_reading = route_all();
  EXPECT_GE(before_reading, 8);  // up to the 1000 bytes held back
  EXPECT_LT(before_reading, 12);
  client.open_window(id, 1 << 20);  // the client reads
  EXPECT_EQ(before_reading + route_all(), 40);
  client.send(id, "", true);
  EXPECT_EQ(client.answers[id].status(), "0");
  EXPECT_EQ(client.answers[id].messages().size(), 40u);
}

TEST(GrpcSession, AnAnswerAfterTheClientCancelledIsDropped) {
  Client client;
  const int32_t id = client.call(std::string(kService) + "ModelInfer", framed(infer_request("a")));
  ASSERT_EQ(client.server.take_requests().size(), 1u);
  client.reset(id);
  EXPECT_EQ(client.server.open_calls(), 0u);
  bool ran = false;
  HttpResponse late = infer_answer("a");
  late.after_sent = after_sent_job([&ran] { ran = true; });
  client.server.answer(id, std::move(late));  // the call is gone: nothing is sent
  EXPECT_TRUE(ran);
  client.pump();
  EXPECT_TRUE(client.answers[id].data.empty());
}

TEST(GrpcSession, BufferedRequestBytesAreBoundedAcrossSessionsAndGivenBack) {
  std::atomic<std::size_t> buffered{0};
  GrpcSessionLimits limits;
  limits.buffered = &buffered;
  limits.buffered_budget = 1000;
  {
    Client first(limits), second(limits);
    const std::string infer = std::string(kService) + "ModelInfer";
    const int32_t a = first.call(infer, framed(std::string(900, 'x')).substr(0, 700), false);
    EXPECT_EQ(buffered.load(), 700u);
    const int32_t b = second.call(infer, framed(std::string(900, 'x')).substr(0, 400), false);
    EXPECT_EQ(second.answers[b].status(), "14");  // UNAVAILABLE
    EXPECT_EQ(second.answers[b].headers["mg-error-code"], "overloaded");
    EXPECT_EQ(first.answers[a].status(), "");  // still reading
    EXPECT_EQ(buffered.load(), 700u);
  }
  EXPECT_EQ(buffered.load(), 0u);  // the sessions gave theirs back
}

TEST(GrpcSession, ALongStreamHoldsOnlyTheBytesItHasNotRouted) {
  // A client that always keeps one request waiting behind the one being answered, for far
  // more bytes in all than the budget: each routed message's bytes are given back.
  std::atomic<std::size_t> buffered{0};
  GrpcSessionLimits limits;
  limits.buffered = &buffered;
  limits.buffered_budget = 2000;
  Client client(limits);
  const std::string one = framed(infer_request("r"));
  const int32_t id = client.call(std::string(kService) + "ModelStreamInfer", one + one, false);
  int answered = 0;
  for (int i = 0; i < 200; ++i) {
    auto ready = client.server.take_requests();
    ASSERT_EQ(ready.size(), 1u) << "round " << i;
    EXPECT_EQ(buffered.load(), one.size());  // the one waiting
    client.send(id, one, false);
    client.server.answer(id, infer_answer("r"));
    ++answered;
  }
  client.send(id, "", true);
  for (auto ready = client.server.take_requests(); !ready.empty();
       ready = client.server.take_requests()) {
    for (auto& r : ready) client.server.answer(r.stream_id, infer_answer("r")), ++answered;
  }
  client.pump();
  EXPECT_EQ(client.answers[id].status(), "0");
  EXPECT_EQ(client.answers[id].messages().size(), static_cast<std::size_t>(answered));
  EXPECT_EQ(answered, 202);
  EXPECT_EQ(buffered.load(), 0u);
}

TEST(GrpcSession, ABadPrefaceBreaksTheConnectionWithAGoaway) {
  GrpcSession session{GrpcSessionLimits{}};
  EXPECT_FALSE(session.receive("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_TRUE(session.finished());
}

TEST(GrpcSession, GoawayLetsOpenCallsFinishThenTheSessionIsDone) {
  Client client;
  const int32_t id = client.call(std::string(kService) + "ServerLive", framed(""));
  ASSERT_EQ(client.server.take_requests().size(), 1u);
  client.server.go_away();
  client.pump();
  EXPECT_FALSE(client.server.finished());  // the call is still open
  client.server.answer(id, HttpResponse{});
  client.pump();
  EXPECT_EQ(client.answers[id].status(), "0");
  EXPECT_TRUE(client.server.finished());
}

TEST(GrpcTimeout, ParsesEveryUnitAndRefusesTheRest) {
  using namespace std::chrono;
  EXPECT_EQ(parse_grpc_timeout("1H"), hours(1));
  EXPECT_EQ(parse_grpc_timeout("2M"), minutes(2));
  EXPECT_EQ(parse_grpc_timeout("3S"), seconds(3));
  EXPECT_EQ(parse_grpc_timeout("250m"), milliseconds(250));
  EXPECT_EQ(parse_grpc_timeout("99999999u"), microseconds(99999999));
  EXPECT_EQ(parse_grpc_timeout("7n"), nanoseconds(7));
  for (const char* bad : {"", "S", "1", "123456789S", "1s", "-1S", "1.5S", "1 S"})
    EXPECT_FALSE(parse_grpc_timeout(bad).has_value()) << bad;
}

TEST(GrpcMessage, PercentEncodesWhatIsNotPrintableAscii) {
  EXPECT_EQ(grpc_message_encoded("bad_request: 50% off"), "bad_request: 50%25 off");
  EXPECT_EQ(grpc_message_encoded("caf\xc3\xa9\n"), "caf%C3%A9%0A");
}

}  // namespace
}  // namespace mg::gateway
