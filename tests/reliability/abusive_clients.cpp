// mg-abuse: abusive clients against a TLS server on loopback, for the reliability tests.
//   idle N       TCP connections that never start a TLS handshake
//   half-tls N   connections that send half a ClientHello and stall
//   slowloris N  TLS connections that send a request head one byte every 500 ms
//   oversized    one connection at a time sending 64 KiB of headers (expects 413)
// Every connection the server drops is reopened, so the pressure lasts the whole run.
// Prints one line of counts at the end. With SOURCE (a loopback address such as
// 127.0.0.2) the idle, half-TLS and slowloris connections come from that address, so the
// server's per-address cap meets them while clients on 127.0.0.1 are unaffected.
// usage: mg-abuse PORT SECONDS IDLE HALF_TLS SLOWLORIS [SOURCE]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

enum class Kind { kIdle, kHalfTls, kSlowloris };

struct Conn {
  Kind kind;
  int fd = -1;
  SSL* ssl = nullptr;
  std::size_t sent = 0;  // slowloris: bytes of the head sent so far
};

struct Counts {
  long opened = 0, dropped = 0, failed_connects = 0, oversized_413 = 0, oversized_other = 0;
};

const char kSlowHead[] =
    "POST /v2/models/fashion-mlp/infer HTTP/1.1\r\nHost: localhost\r\nX-Slow: "
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

in_addr g_source{htonl(INADDR_ANY)};  // the attackers' source address (any: the kernel's)

int tcp_connect(int port, bool from_source = false) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0) return -1;
  sockaddr_in source{};
  source.sin_family = AF_INET;
  source.sin_addr = g_source;
  if (from_source && ::bind(fd, reinterpret_cast<sockaddr*>(&source), sizeof source) != 0) {
    ::close(fd);
    return -1;
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

SSL* tls_connect(SSL_CTX* ctx, int fd) {
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  if (SSL_connect(ssl) != 1) {
    SSL_free(ssl);
    return nullptr;
  }
  return ssl;
}

void close_conn(Conn& c) {
  if (c.ssl) SSL_free(c.ssl);
  if (c.fd >= 0) ::close(c.fd);
  c.ssl = nullptr;
  c.fd = -1;
  c.sent = 0;
}

bool open_conn(Conn& c, SSL_CTX* ctx, int port, Counts& counts) {
  c.fd = tcp_connect(port, true);
  if (c.fd < 0) {
    ++counts.failed_connects;
    return false;
  }
  if (c.kind == Kind::kHalfTls) {
    // A TLS record header announcing a 512-byte handshake message, and 10 bytes of it.
    const unsigned char partial[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01,
                                     0xfc, 0x03, 0x03, 0,    0,    0,    0};
    if (::send(c.fd, partial, sizeof partial, MSG_NOSIGNAL) < 0) {
      close_conn(c);
      return false;
    }
  } else if (c.kind == Kind::kSlowloris) {
    c.ssl = tls_connect(ctx, c.fd);
    if (c.ssl == nullptr) {
      close_conn(c);
      ++counts.failed_connects;
      return false;
    }
  }
  ++counts.opened;
  return true;
}

// True when the server has closed (or reset) this connection.
bool server_closed(const Conn& c) {
  pollfd p{c.fd, POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLHUP | POLLERR)) return true;
  char buffer[4096];
  const ssize_t got = ::recv(c.fd, buffer, sizeof buffer, MSG_DONTWAIT);
  return got <= 0;
}

void oversized_once(SSL_CTX* ctx, int port, Counts& counts) {
  const int fd = tcp_connect(port);
  if (fd < 0) return;
  if (SSL* ssl = tls_connect(ctx, fd)) {
    std::string head = "GET /v2/health/live HTTP/1.1\r\nHost: localhost\r\nX-Big: ";
    head += std::string(64 * 1024, 'a') + "\r\n\r\n";
    SSL_write(ssl, head.data(), static_cast<int>(head.size()));
    char reply[256] = {};
    const int got = SSL_read(ssl, reply, sizeof reply - 1);
    (got > 12 && std::strncmp(reply + 9, "413", 3) == 0 ? counts.oversized_413
                                                        : counts.oversized_other)++;
    SSL_free(ssl);
  }
  ::close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6 && argc != 7) {
    std::fprintf(stderr, "usage: %s PORT SECONDS IDLE HALF_TLS SLOWLORIS [SOURCE]\n", argv[0]);
    return 2;
  }
  if (argc == 7 && ::inet_pton(AF_INET, argv[6], &g_source) != 1) {
    std::fprintf(stderr, "bad source address %s\n", argv[6]);
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);  // writes to connections the server closed
  const int port = std::atoi(argv[1]);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(std::atoi(argv[2]));
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  std::vector<Conn> conns;
  for (int i = 0; i < std::atoi(argv[3]); ++i) conns.push_back({Kind::kIdle});
  for (int i = 0; i < std::atoi(argv[4]); ++i) conns.push_back({Kind::kHalfTls});
  for (int i = 0; i < std::atoi(argv[5]); ++i) conns.push_back({Kind::kSlowloris});
  Counts counts;
  for (auto& c : conns) open_conn(c, ctx, port, counts);
  while (std::chrono::steady_clock::now() < deadline) {
    for (auto& c : conns) {
      if (c.fd < 0 || server_closed(c)) {
        if (c.fd >= 0) ++counts.dropped;
        close_conn(c);
        open_conn(c, ctx, port, counts);
        continue;
      }
      if (c.kind == Kind::kSlowloris && c.sent < sizeof kSlowHead - 1) {
        if (SSL_write(c.ssl, kSlowHead + c.sent, 1) == 1) ++c.sent;
      }
    }
    oversized_once(ctx, port, counts);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  std::printf(
      "ABUSE opened=%ld dropped_by_server=%ld failed_connects=%ld oversized_413=%ld "
      "oversized_other=%ld\n",
      counts.opened, counts.dropped, counts.failed_connects, counts.oversized_413,
      counts.oversized_other);
  for (auto& c : conns) close_conn(c);
  SSL_CTX_free(ctx);
  return 0;
}
