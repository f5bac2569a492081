// The access log's buffer is bounded: when its output stalls (a pipe nobody reads), lines
// past the bound are dropped and counted instead of growing the server's memory, and
// everything kept is written whole once the output moves again.
#include "gateway/metrics/access_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "common/log.h"

namespace mg::gateway {
namespace {

TEST(AccessLog, AStalledOutputDropsLinesPastTheBoundAndCountsThem) {
  mg::set_log_sink([](mg::LogLevel, std::string_view) {});
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  constexpr std::size_t kCapacity = 256 << 10;
  auto log = std::make_unique<AccessLog>(fdopen(fds[1], "w"), true, kCapacity);
  uint64_t drops_seen = 0;
  log->on_drop([&] { ++drops_seen; });
  const std::string line(99, 'x');  // 100 bytes with its newline
  constexpr int kLines = 100'000;   // 10 MB: far past the pipe's 64 KiB and the bound
  for (int i = 0; i < kLines; ++i) {
    log->write(line);
    ASSERT_LE(log->pending_bytes(), kCapacity);
  }
  EXPECT_GT(log->dropped(), 0u);
  EXPECT_EQ(drops_seen, log->dropped());
  // Drain the pipe; closing the log writes out what it kept.
  std::string written;
  std::thread reader([&] {
    char buffer[65536];
    for (ssize_t n; (n = read(fds[0], buffer, sizeof buffer)) > 0;) written.append(buffer, n);
  });
  const uint64_t dropped = log->dropped();
  log.reset();
  reader.join();
  close(fds[0]);
  EXPECT_EQ(written.size(), (kLines - dropped) * 100);
  for (std::size_t at = 99; at < written.size(); at += 100) ASSERT_EQ(written[at], '\n') << at;
}

}  // namespace
}  // namespace mg::gateway
