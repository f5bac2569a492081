#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <string_view>

namespace mg::testing {

// A TLS connection to 127.0.0.1:port made with OpenSSL directly, for tests that decide
// exactly what goes on the wire (each SSL_write is one record). The certificate is not
// verified: test servers use throwaway self-signed ones. `alpn` is in wire format
// ("\x02h2") or empty; a `receive_buffer` above 0 shrinks the socket's receive buffer so
// the server's writes stall sooner.
class LoopbackTls {
 public:
  explicit LoopbackTls(uint16_t port, std::string_view alpn = {}, int receive_buffer = 0) {
    std::signal(SIGPIPE, SIG_IGN);  // writing to a connection the server closed
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (receive_buffer > 0) {
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    context_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(context_, SSL_VERIFY_NONE, nullptr);
    ssl_ = SSL_new(context_);
    SSL_set_fd(ssl_, fd_);
    if (!alpn.empty()) {
      SSL_set_alpn_protos(ssl_, reinterpret_cast<const unsigned char*>(alpn.data()),
                          static_cast<unsigned>(alpn.size()));
    }
    connected_ = connected_ && SSL_connect(ssl_) == 1;
  }
  ~LoopbackTls() {
    SSL_free(ssl_);
    SSL_CTX_free(context_);
    ::close(fd_);
  }
  LoopbackTls(const LoopbackTls&) = delete;
  LoopbackTls& operator=(const LoopbackTls&) = delete;

  bool connected() const { return connected_; }
  SSL* ssl() const { return ssl_; }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  SSL_CTX* context_ = nullptr;
  SSL* ssl_ = nullptr;
  bool connected_ = false;
};

}  // namespace mg::testing
