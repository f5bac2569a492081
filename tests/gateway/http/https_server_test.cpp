// The HTTPS listener's body reading over real TLS: a body that arrives in the same record
// as its head (parsed from what was already read), one that arrives later or in pieces
// (read asynchronously), chunked bodies split anywhere, a chunked body over the limit, and
// two requests sent in one record. The handler echoes each body back. And answers leave
// without Nagle's delay; the connection's deadlines cut stalled clients, not slow handlers;
// a closing connection sends close_notify.
#include "gateway/http/https_server.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "gateway/main/self_signed.h"
#include "tests/common/loopback_tls.h"
#include "tests/common/own_sockets.h"
#include "tests/registry/temp_dir.h"

namespace mg::gateway {
namespace {

constexpr std::size_t kLargeAnswer = 32 << 20;

// A server on 127.0.0.1:0 answering every POST with its body (anything else: 405); POST
// /sleep answers after 2 s, POST /large with kLargeAnswer bytes. POSTs are handled on the
// handler pool, off the socket threads. `adjust` changes the listener's options.
class EchoServer {
 public:
  explicit EchoServer(const std::function<void(HttpsServerOptions&)>& adjust = {}) {
    write_self_signed_certificate(dir_.path() / "cert.pem", dir_.path() / "key.pem");
    HttpsServerOptions options;
    options.port = 0;
    options.certificate = dir_.path() / "cert.pem";
    options.private_key = dir_.path() / "key.pem";
    options.body_limit = 1 << 20;
    if (adjust) adjust(options);
    server_ = std::make_unique<HttpsServer>(options, [](const HttpRequest& request) {
      HttpResponse response;
      response.content_type = "application/octet-stream";
      response.body = request.body;
      if (request.target == "/sleep") std::this_thread::sleep_for(std::chrono::seconds(2));
      if (request.target == "/large") response.body.assign(kLargeAnswer, 'x');
      if (request.method != "POST") response.status = 405;
      return response;
    });
    thread_ = std::thread([this] { server_->run(); });
  }
  ~EchoServer() {
    server_->stop();
    thread_.join();
  }
  uint16_t port() const { return server_->port(); }

 private:
  registry::testing::TempDir dir_;
  std::unique_ptr<HttpsServer> server_;
  std::thread thread_;
};

// An HTTP/1.1 client on a raw TLS connection: every send() is one TLS record, so a test
// decides what the server's first read holds.
class RawClient {
 public:
  explicit RawClient(uint16_t port, int receive_buffer = 0) : tls_(port, {}, receive_buffer) {
    const timeval timeout{10, 0};  // a missing answer fails the test instead of hanging it
    ::setsockopt(tls_.fd(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }
  bool connected() const { return tls_.connected(); }
  int fd() const { return tls_.fd(); }

  void send(const std::string& bytes) {
    ASSERT_EQ(SSL_write(tls_.ssl(), bytes.data(), static_cast<int>(bytes.size())),
              static_cast<int>(bytes.size()));
  }
  void pause() { std::this_thread::sleep_for(std::chrono::milliseconds(50)); }
  // The server (in this process) still holds its end of the connection. (Whether the
  // client's end is readable says nothing: TLS 1.3 session tickets arrive after the
  // handshake.)
  bool server_holds() const {
    return testing::own_socket_with_peer(testing::local_port(tls_.fd())) >= 0;
  }
  // Waits up to 10 s for the server to close its end; whether it did.
  bool server_closes() const {
    for (int i = 0; i < 200 && server_holds(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return !server_holds();
  }
  // Reads until the connection ends; the bytes read.
  std::size_t read_to_end() {
    std::size_t total = pending_.size();
    char chunk[16384];
    int got = 0;
    while ((got = SSL_read(tls_.ssl(), chunk, sizeof chunk)) > 0)
      total += static_cast<std::size_t>(got);
    last_error_ = SSL_get_error(tls_.ssl(), got);
    return total;
  }
  // SSL_get_error of the read that ended read_to_end.
  int last_error() const { return last_error_; }

  struct Answer {
    int status = 0;
    std::string body;
  };
  // Reads one response (Content-Length framed, as the server always frames them).
  Answer receive() {
    while (pending_.find("\r\n\r\n") == std::string::npos && fill()) {
    }
    const std::size_t head_end = pending_.find("\r\n\r\n");
    if (head_end == std::string::npos) return {};
    Answer answer;
    answer.status = std::stoi(pending_.substr(9, 3));
    const std::string head = pending_.substr(0, head_end);
    const std::size_t at = head.find("Content-Length: ");
    const std::size_t length =
        at == std::string::npos ? 0 : std::stoul(head.substr(at + 16));  // stops at "\r"
    while (pending_.size() < head_end + 4 + length && fill()) {
    }
    answer.body = pending_.substr(head_end + 4, length);
    pending_.erase(0, head_end + 4 + length);
    return answer;
  }

  // The next answer is a 200 whose body is `body` (the echo of the request's body).
  void expect_echo(const std::string& body) {
    const Answer answer = receive();
    EXPECT_EQ(answer.status, 200);
    EXPECT_EQ(answer.body, body);
  }

 private:
  bool fill() {
    char chunk[16384];
    const int got = SSL_read(tls_.ssl(), chunk, sizeof chunk);
    if (got <= 0) return false;
    pending_.append(chunk, static_cast<std::size_t>(got));
    return true;
  }

  testing::LoopbackTls tls_;
  std::string pending_;
  int last_error_ = SSL_ERROR_NONE;
};

void read_deadline_of_one_second(HttpsServerOptions& options) {
  options.read_timeout = std::chrono::seconds(1);
}

std::string post_head(std::size_t length) {
  return "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: " + std::to_string(length) +
         "\r\n\r\n";
}
const std::string kChunkedHead =
    "POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n";

std::string sample_body(std::size_t size) {
  std::string body(size, '\0');
  for (std::size_t i = 0; i < size; ++i) body[i] = static_cast<char>('a' + i % 26);
  return body;
}

// However a request's bytes fall into TLS records (the client pauses between records, so
// each arrives in its own read), the handler sees the whole body once.
TEST(HttpsServerBody, ABodyIsReadHoweverItsRecordsFall) {
  const std::string small = sample_body(3000), large = sample_body(40000);
  const std::string medium = sample_body(5000);
  struct Case {
    const char* what;
    std::vector<std::string> records;
    std::string body;
  };
  const std::vector<Case> cases = {
      {"in its head's record", {post_head(small.size()) + small}, small},
      {"after its head, in pieces of more than one record",
       {post_head(large.size()), large.substr(0, 1000), large.substr(1000)},
       large},
      {"partly with its head, the rest later",
       {post_head(medium.size()) + medium.substr(0, 2000), medium.substr(2000)},
       medium},
      {"chunked, in one record",
       {kChunkedHead + "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"},
       "hello world"},
      {"chunked, cut inside the second chunk's size line",
       {kChunkedHead + "5\r\nhello\r\n6\r", "\n world\r\n0\r\n\r\n"},
       "hello world"},
  };
  EchoServer server;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    RawClient client(server.port());
    ASSERT_TRUE(client.connected());
    for (std::size_t i = 0; i < c.records.size(); ++i) {
      if (i > 0) client.pause();
      client.send(c.records[i]);
    }
    client.expect_echo(c.body);
  }
}

TEST(HttpsServerBody, AChunkedBodyOverTheLimitInOneRecordIsRefused) {
  EchoServer server([](HttpsServerOptions& options) { options.body_limit = 1000; });
  RawClient client(server.port());
  ASSERT_TRUE(client.connected());
  const std::string body = sample_body(2000);
  char size[16];
  std::snprintf(size, sizeof size, "%zx", body.size());
  client.send(kChunkedHead + size + "\r\n" + body + "\r\n0\r\n\r\n");
  const auto answer = client.receive();
  EXPECT_EQ(answer.status, 413);
  EXPECT_NE(answer.body.find("\"code\":\"payload_too_large\""), std::string::npos) << answer.body;
}

TEST(HttpsServerBody, TwoRequestsInOneRecordAreAnsweredInOrder) {
  EchoServer server;
  RawClient client(server.port());
  ASSERT_TRUE(client.connected());
  client.send(post_head(5) + "first" + post_head(6) + "second");
  client.expect_echo("first");
  client.expect_echo("second");
}

// Two requests in two TLS records that reach the server in one segment: OpenSSL reads both
// at once (read ahead), so after the first answer the second is in OpenSSL's buffer, not
// the socket. The read after an answer, which waits for the socket first, must see it.
TEST(HttpsServerBody, TwoRequestsInTwoRecordsArrivingTogetherAreAnsweredInOrder) {
  EchoServer server;
  RawClient client(server.port());
  ASSERT_TRUE(client.connected());
  int on = 1;
  ASSERT_EQ(setsockopt(client.fd(), IPPROTO_TCP, TCP_CORK, &on, sizeof on), 0);
  client.send(post_head(5) + "first");  // a record each
  client.send(post_head(6) + "second");
  int off = 0;
  ASSERT_EQ(setsockopt(client.fd(), IPPROTO_TCP, TCP_CORK, &off, sizeof off), 0);
  client.expect_echo("first");
  client.expect_echo("second");
  // and a third, sent only now, still reaches a server waiting on the socket
  client.send(post_head(5) + "third");
  client.expect_echo("third");
}

// Nagle's algorithm held a large answer's last TLS record until the client's delayed ACK
// of the ones before it: ~40 ms more for a 40 KB answer (bench/RESULTS.md). Accepted
// connections send at once.
TEST(HttpsServerBody, AcceptedConnectionsSendWithoutNaglesDelay) {
  EchoServer server;
  RawClient client(server.port());
  ASSERT_TRUE(client.connected());
  const std::string body = sample_body(40000);
  client.send(post_head(body.size()) + body);
  client.expect_echo(body);  // answered in several TLS records
  // The server runs in this process: its end is the socket whose peer is the client's.
  const int server_fd = testing::own_socket_with_peer(testing::local_port(client.fd()));
  ASSERT_GE(server_fd, 0);
  EXPECT_TRUE(testing::sends_without_delay(server_fd));
}

// A request head trickled a byte at a time never completes: the read deadline, set once
// for the whole request, cuts the connection although bytes keep arriving.
TEST(HttpsServerDeadlines, ATrickledHeadIsCutAtTheReadDeadline) {
  EchoServer server(read_deadline_of_one_second);
  RawClient client(server.port());
  ASSERT_TRUE(client.connected());
  const std::string head = post_head(5) + std::string(40, ' ');  // 3 s or more to send
  std::size_t sent = 0;
  for (; sent < head.size() && client.server_holds(); ++sent) {
    client.send(head.substr(sent, 1));
    std::this_thread::sleep_for(std::chrono::milliseconds(75));
  }
  EXPECT_LT(sent, head.size()) << "the server held the connection through the whole head";
  client.read_to_end();
  EXPECT_NE(client.last_error(), SSL_ERROR_NONE);
}

// A client that goes silent halfway through its head is cut at the read deadline, with
// nothing arriving to wake the read.
TEST(HttpsServerDeadlines, ASilentClientIsCutAtTheReadDeadline) {
  EchoServer server(read_deadline_of_one_second);
  RawClient client(server.port());
  ASSERT_TRUE(client.connected());
  client.send("POST /echo HTTP/1.1\r\nHost: loc");
  EXPECT_TRUE(client.server_closes()) << "the server held a silent client";
  client.read_to_end();
  // Cut, not closed in order: no close_notify, and no more waiting for the client's.
  EXPECT_NE(client.last_error(), SSL_ERROR_NONE);
  EXPECT_NE(client.last_error(), SSL_ERROR_ZERO_RETURN);
}

// A handler slower than the read deadline is not a stalled client: the deadline passes
// while nothing waits on the socket, and the answer (with its own deadline) still goes
// out, on a connection that stays usable.
TEST(HttpsServerDeadlines, AHandlerSlowerThanTheReadDeadlineIsStillAnswered) {
  EchoServer server(read_deadline_of_one_second);
  RawClient client(server.port());
  ASSERT_TRUE(client.connected());
  client.send("POST /sleep HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nfirst");
  client.expect_echo("first");
  client.send(post_head(6) + "second");
  client.expect_echo("second");
}

// A client that stops reading a large answer is cut at the write deadline: it never gets
// the rest, and its connection ends instead of holding the server's buffers.
TEST(HttpsServerDeadlines, AClientThatStopsReadingIsCutAtTheWriteDeadline) {
  EchoServer server(
      [](HttpsServerOptions& options) { options.write_timeout = std::chrono::seconds(1); });
  RawClient client(server.port(), 4096);
  ASSERT_TRUE(client.connected());
  client.send("POST /large HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n");
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_FALSE(client.server_holds()) << "the server held a client that reads nothing";
  EXPECT_LT(client.read_to_end(), kLargeAnswer);
  EXPECT_NE(client.last_error(), SSL_ERROR_NONE);
}

// Connection: close ends with the server's close_notify after the answer, so the client
// can tell a complete close from a cut one.
TEST(HttpsServerDeadlines, AClosingConnectionEndsWithCloseNotify) {
  EchoServer server;
  RawClient client(server.port());
  ASSERT_TRUE(client.connected());
  client.send(
      "POST /echo HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
      "Content-Length: 4\r\n\r\nlast");
  client.expect_echo("last");
  EXPECT_EQ(client.read_to_end(), 0u);
  EXPECT_EQ(client.last_error(), SSL_ERROR_ZERO_RETURN);
}

}  // namespace
}  // namespace mg::gateway
