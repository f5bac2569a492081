// The gRPC listener (gateway/grpc/grpc_server.h) in process, over real TLS and HTTP/2, with
// the client SDK's gRPC C++ transport: calls answered on the socket threads and on the
// handler threads at once, the queue's limit, deadlines, and the drain on stop.
#include "gateway/grpc/grpc_server.h"

#include <gtest/gtest.h>
#include <modelgate/grpc_client.h>
#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>

#include "gateway/main/self_signed.h"
#include "tests/common/loopback_tls.h"
#include "tests/gateway/grpc/h2_test_client.h"
#include "tests/registry/temp_dir.h"

namespace mg::gateway {
namespace {

// ServerMetadata's answer with 256 extensions of 1,000 characters: large answers.
HttpResponse big_metadata() {
  std::string body = R"({"name":"m","version":"1","extensions":[)";
  for (int i = 0; i < 256; ++i) body += (i ? ",\"" : "\"") + std::string(1000, 'x') + "\"";
  HttpResponse response;
  response.body = body + "]}";
  return response;
}

// A server whose router answers GET /v2/health/live at once (on the socket thread) and
// /v2/health/ready on a handler thread after `ready_delay`, counting both.
class Listener {
 public:
  explicit Listener(GrpcServerOptions options = {}, std::chrono::milliseconds ready_delay = {}) {
    write_self_signed_certificate(dir_.path() / "cert.pem", dir_.path() / "key.pem");
    options.host = "127.0.0.1";
    options.port = 0;
    options.certificate = dir_.path() / "cert.pem";
    options.private_key = dir_.path() / "key.pem";
    options.on_shed = [this] { ++shed; };
    options.runs_inline = [](const HttpRequest& r) { return r.target == "/v2/health/live"; };
    server = std::make_unique<GrpcServer>(options, [this, ready_delay](const HttpRequest& r) {
      if (r.target == "/v2") return big_metadata();  // ServerMetadata: ~256 KiB answers
      if (r.target == "/v2/health/ready") {
        ++ready_calls;
        std::this_thread::sleep_for(ready_delay);
      } else {
        ++live_calls;
      }
      return HttpResponse{};
    });
  }
  ~Listener() { server.reset(); }  // before dir_ goes

  modelgate::GrpcClientOptions client_options(
      std::chrono::seconds timeout = std::chrono::seconds(10)) {
    modelgate::GrpcClientOptions o;
    o.address = "localhost:" + std::to_string(server->port());
    o.ca_file = (dir_.path() / "cert.pem").string();
    o.api_key = "mg_unused_key";
    o.timeout = timeout;
    return o;
  }

  std::atomic<int> live_calls{0}, ready_calls{0}, shed{0};
  std::unique_ptr<GrpcServer> server;

 private:
  registry::testing::TempDir dir_;  // a fresh one per listener: certificate and key
};

TEST(GrpcServer, CallsFromManyThreadsAreAnsweredOnBothPaths) {
  GrpcServerOptions options;
  options.io_threads = 2;
  options.handler_threads = 4;
  Listener listener(options);
  modelgate::GrpcClient shared(listener.client_options());
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      modelgate::GrpcClient own(listener.client_options());  // a second connection
      modelgate::GrpcClient& client = t % 2 ? own : shared;
      for (int i = 0; i < 100; ++i) {
        const auto answer = i % 2 ? client.server_ready() : client.server_live();
        if (answer.ok() && answer.body.find("true") != std::string::npos) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 400);
  EXPECT_EQ(listener.live_calls.load(), 200);
  EXPECT_EQ(listener.ready_calls.load(), 200);
  EXPECT_EQ(listener.shed.load(), 0);
}

TEST(GrpcServer, CallsBeyondTheQueueAreRefusedOverloaded) {
  GrpcServerOptions options;
  options.handler_threads = 1;
  options.max_queued_calls = 1;
  Listener listener(options, std::chrono::milliseconds(300));
  modelgate::GrpcClient client(listener.client_options());
  std::vector<modelgate::GrpcResponse> answers(6);
  std::vector<std::thread> threads;
  for (auto& answer : answers) threads.emplace_back([&] { answer = client.server_ready(); });
  for (auto& t : threads) t.join();
  int refused = 0;
  for (const auto& answer : answers) {
    if (answer.ok()) continue;
    ++refused;
    EXPECT_EQ(answer.code, 14);  // UNAVAILABLE
    EXPECT_EQ(answer.error_code, "overloaded");
    EXPECT_EQ(answer.retry_after, "1");
  }
  EXPECT_GE(refused, 1);
  EXPECT_EQ(listener.shed.load(), refused);
  EXPECT_EQ(listener.ready_calls.load(), 6 - refused);
}

TEST(GrpcServer, ACallWhoseDeadlinePassedWhileQueuedIsNotRouted) {
  GrpcServerOptions options;
  options.handler_threads = 1;
  Listener listener(options, std::chrono::milliseconds(1500));
  modelgate::GrpcClient client(listener.client_options(std::chrono::seconds(1)));
  modelgate::GrpcResponse first, second;
  std::thread a([&] { first = client.server_ready(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the thread is busy
  std::thread b([&] { second = client.server_ready(); });
  a.join();
  b.join();
  EXPECT_EQ(first.code, 4);  // DEADLINE_EXCEEDED, at the client
  EXPECT_EQ(second.code, 4);
  // The first call took the only handler thread for 1.5 s; by then the second's deadline
  // had passed, so it was answered without being routed.
  std::this_thread::sleep_for(std::chrono::milliseconds(1700));
  EXPECT_EQ(listener.ready_calls.load(), 1);
}

TEST(GrpcServer, ConnectionsBeyondTheCapAreRefused) {
  GrpcServerOptions options;
  options.max_connections = 1;
  Listener listener(options);
  modelgate::GrpcClient first(listener.client_options(std::chrono::seconds(2)));
  ASSERT_TRUE(first.server_live().ok());  // holds the one connection
  modelgate::GrpcClient second(listener.client_options(std::chrono::seconds(2)));
  EXPECT_EQ(second.server_live().code, 14);  // UNAVAILABLE: closed on accept
  EXPECT_TRUE(first.server_live().ok());
  EXPECT_EQ(listener.live_calls.load(), 2);
}

TEST(GrpcServer, ConnectionsFromOneAddressBeyondItsCapAreRefused) {
  GrpcServerOptions options;
  options.max_connections_per_address = 1;
  Listener listener(options);
  auto first =
      std::make_unique<modelgate::GrpcClient>(listener.client_options(std::chrono::seconds(2)));
  ASSERT_TRUE(first->server_live().ok());
  modelgate::GrpcClient second(listener.client_options(std::chrono::seconds(2)));
  EXPECT_EQ(second.server_live().code, 14);  // UNAVAILABLE: 127.0.0.1 is at its cap
  first.reset();  // its connection closes, and the address's count goes down
  modelgate::GrpcClient third(listener.client_options(std::chrono::seconds(5)));
  bool served = false;
  for (int i = 0; i < 50 && !served; ++i) {  // until the server has seen the close
    served = third.server_live().ok();
    if (!served) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(served);
}

// A client over TLS (OpenSSL directly, its frames made by nghttp2's client session) that
// sends calls and PINGs but never reads what the server writes.
class NonReadingClient {
 public:
  // A small receive buffer: the server's writes stall sooner.
  explicit NonReadingClient(uint16_t port) : tls_(port, "\x02h2", 4096) {
    nghttp2_session_callbacks* callbacks = nullptr;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_client_new(&session_, callbacks, this);
    nghttp2_session_callbacks_del(callbacks);
    // Flow control never stops the server: only the socket does.
    const nghttp2_settings_entry window{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 30};
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, &window, 1);
    nghttp2_submit_window_update(session_, NGHTTP2_FLAG_NONE, 0, 1 << 30);
    flush();
  }
  ~NonReadingClient() { nghttp2_session_del(session_); }
  bool connected() const { return tls_.connected(); }

  void call(const std::string& path) {
    std::vector<std::pair<std::string, std::string>> fields = {
        {":method", "POST"},
        {":scheme", "https"},
        {":authority", "localhost"},
        {":path", path},
        {"content-type", "application/grpc"}};
    std::vector<nghttp2_nv> nv = testing::header_array(fields);
    body_ = std::string(5, '\0');  // one empty message
    nghttp2_data_provider provider{};
    provider.read_callback = [](nghttp2_session*, int32_t, uint8_t* buffer, size_t length,
                                uint32_t* flags, nghttp2_data_source*, void* self) -> ssize_t {
      return testing::take_pending(static_cast<NonReadingClient*>(self)->body_, buffer, length,
                                   flags);
    };
    nghttp2_submit_request(session_, nullptr, nv.data(), nv.size(), &provider, nullptr);
    flush();
  }
  void ping() {
    nghttp2_submit_ping(session_, NGHTTP2_FLAG_NONE, nullptr);
    flush();
  }
  // Reads until the server closes the connection (true) or nothing comes for `wait`.
  bool closed_by_server(std::chrono::seconds wait) {
    const timeval timeout{static_cast<time_t>(wait.count()), 0};
    ::setsockopt(tls_.fd(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    std::vector<char> buffer(1 << 16);
    for (;;) {
      const int n = SSL_read(tls_.ssl(), buffer.data(), static_cast<int>(buffer.size()));
      if (n > 0) continue;
      return SSL_get_error(tls_.ssl(), n) != SSL_ERROR_WANT_READ;  // WANT_READ: timed out
    }
  }

 private:
  void flush() {
    const uint8_t* data = nullptr;
    for (ssize_t n; (n = nghttp2_session_mem_send(session_, &data)) > 0;)
      SSL_write(tls_.ssl(), data, static_cast<int>(n));
  }

  testing::LoopbackTls tls_;
  nghttp2_session* session_ = nullptr;
  std::string body_;
};

TEST(GrpcServer, AClientThatDoesNotReadIsDisconnectedAfterTheWriteTimeout) {
  GrpcServerOptions options;
  options.write_timeout = std::chrono::seconds(1);
  options.keepalive_time = std::chrono::milliseconds(300);  // the check's tick
  Listener listener(options);
  NonReadingClient client(listener.server->port());
  ASSERT_TRUE(client.connected());
  // 64 answers of ~256 KiB: far more than the socket buffers hold.
  for (int i = 0; i < 64; ++i) client.call("/inference.GRPCInferenceService/ServerMetadata");
  // The client keeps sending (so keepalive never pings it) for well past the timeout.
  for (int i = 0; i < 30; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    client.ping();
  }
  EXPECT_TRUE(client.closed_by_server(std::chrono::seconds(5)));
}

TEST(GrpcServer, StopLetsCallsInFlightFinishThenRefusesConnections) {
  GrpcServerOptions options;
  options.handler_threads = 4;
  Listener listener(options, std::chrono::milliseconds(400));
  modelgate::GrpcClient client(listener.client_options());
  ASSERT_TRUE(client.server_live().ok());  // connected
  std::vector<modelgate::GrpcResponse> answers(3);
  std::vector<std::thread> threads;
  for (auto& answer : answers) threads.emplace_back([&] { answer = client.server_ready(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(150));  // all three are routing
  const auto port = listener.server->port();
  listener.server->stop();
  for (auto& t : threads) t.join();
  for (const auto& answer : answers)
    EXPECT_TRUE(answer.ok()) << answer.code << " " << answer.message;
  EXPECT_EQ(listener.ready_calls.load(), 3);
  auto options_after = listener.client_options(std::chrono::seconds(2));
  options_after.address = "localhost:" + std::to_string(port);
  modelgate::GrpcClient late(options_after);
  EXPECT_EQ(late.server_live().code, 14);  // UNAVAILABLE: nothing listens
}

}  // namespace
}  // namespace mg::gateway
