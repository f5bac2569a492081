#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstdint>
#include <filesystem>
#include <string>

namespace mg::testing {

// The socket of this process whose peer is 127.0.0.1:port (the other end of a loopback
// connection), skipping `except_fd`; -1 when there is none. For tests that check how a
// connection made inside the test process was set up.
inline int own_socket_with_peer(uint16_t port, int except_fd = -1) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    const int fd = std::stoi(entry.path().filename().string());
    sockaddr_in peer{};
    socklen_t length = sizeof peer;
    if (fd == except_fd || ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) != 0 ||
        peer.sin_family != AF_INET) {
      continue;
    }
    if (ntohs(peer.sin_port) == port && ntohl(peer.sin_addr.s_addr) == INADDR_LOOPBACK) return fd;
  }
  return -1;
}

// The local port a socket is bound to (0 when it is not a bound IPv4 socket).
inline uint16_t local_port(int fd) {
  sockaddr_in local{};
  socklen_t length = sizeof local;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) != 0) return 0;
  return ntohs(local.sin_port);
}

// Whether the socket sends small writes at once (TCP_NODELAY) instead of holding them for
// the peer's ACK of what is in flight (Nagle's algorithm).
inline bool sends_without_delay(int fd) {
  int no_delay = 0;
  socklen_t size = sizeof no_delay;
  return ::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &no_delay, &size) == 0 && no_delay != 0;
}

}  // namespace mg::testing
