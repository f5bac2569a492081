// What a system call costs on this machine: the gateway's requests are mostly kernel work
// (a read, a write and an epoll_ctl each, bench/RESULTS.md), and the price of entering the
// kernel differs several times between the VMs the benchmarks run on. bench/gateway/run.sh
// prints this line with its ratios so that runs on different hosts can be read side by side.
// Each figure is the mean of a loop of calls that do no work: a read of an empty non-blocking
// loopback socket (EAGAIN), an epoll_ctl(EPOLL_CTL_MOD) of it, getppid, and, for scale, a
// steady-clock read (the vDSO, no kernel entry).
// usage: system_call_cost [CALLS]
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace {

using Clock = std::chrono::steady_clock;

// A connected loopback TCP pair: the accepted end, non-blocking, with nothing to read.
int idle_socket(int fds[3]) {
  fds[0] = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (fds[0] < 0 || bind(fds[0], reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      listen(fds[0], 1) != 0 ||
      getsockname(fds[0], reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw std::runtime_error("cannot listen on loopback");
  }
  fds[1] = socket(AF_INET, SOCK_STREAM, 0);
  if (fds[1] < 0 || connect(fds[1], reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
    throw std::runtime_error("cannot connect on loopback");
  fds[2] = accept(fds[0], nullptr, nullptr);
  if (fds[2] < 0 || fcntl(fds[2], F_SETFL, O_NONBLOCK) != 0)
    throw std::runtime_error("cannot accept on loopback");
  return fds[2];
}

// Mean nanoseconds of `call` over `calls` runs.
template <typename Call>
double mean_ns(long calls, Call call) {
  const auto start = Clock::now();
  for (long i = 0; i < calls; ++i) call();
  return std::chrono::duration<double, std::nano>(Clock::now() - start).count() /
         static_cast<double>(calls);
}

}  // namespace

int main(int argc, char** argv) {
  const long calls = argc > 1 ? std::atol(argv[1]) : 200000;
  if (calls <= 0) {
    std::fprintf(stderr, "usage: system_call_cost [CALLS]\n");
    return 2;
  }
  try {
    int fds[3];
    const int socket_fd = idle_socket(fds);
    const int epoll_fd = epoll_create1(0);
    epoll_event event{};
    event.events = EPOLLIN | EPOLLET;
    if (epoll_fd < 0 || epoll_ctl(epoll_fd, EPOLL_CTL_ADD, socket_fd, &event) != 0)
      throw std::runtime_error("cannot use epoll");
    char buffer[64];
    volatile long sink = 0;  // keeps the calls' results alive
    const double read_ns =
        mean_ns(calls, [&] { sink = sink + read(socket_fd, buffer, sizeof buffer); });
    const double epoll_ns = mean_ns(
        calls, [&] { sink = sink + epoll_ctl(epoll_fd, EPOLL_CTL_MOD, socket_fd, &event); });
    const double getppid_ns = mean_ns(calls, [&] { sink = sink + getppid(); });
    const double clock_ns =
        mean_ns(calls, [&] { sink = sink + Clock::now().time_since_epoch().count(); });
    std::printf(
        "system calls on this host: read (EAGAIN) %.0f ns, epoll_ctl %.0f ns, getppid %.0f ns; "
        "steady_clock (vDSO) %.0f ns\n",
        read_ns, epoll_ns, getppid_ns, clock_ns);
    for (int fd : {fds[0], fds[1], fds[2], epoll_fd}) close(fd);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "system_call_cost: %s\n", e.what());
    return 1;
  }
  return 0;
}
