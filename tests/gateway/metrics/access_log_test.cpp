// The access log's buffer is bounded: when its output stalls (a pipe nobody reads), lines
// past the bound are dropped and counted instead of growing the server's memory, and
// everything kept is written whole once the output moves again.
#include "gateway/metrics/access_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

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

// Each writing thread has its own shard of the buffer: every line still comes out once and
// whole, and one thread's lines in the order it wrote them, with more threads than shards.
TEST(AccessLog, LinesOfManyThreadsComeOutWholeAndInOrderPerThread) {
  std::FILE* out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  constexpr int kThreads = static_cast<int>(AccessLog::kShards) + 3;
  constexpr int kLines = 20'000;
  {
    AccessLog log(out, false);
    std::vector<std::thread> writers;
    for (int t = 0; t < kThreads; ++t) {
      writers.emplace_back([&log, t] {
        for (int i = 0; i < kLines; ++i) {
          log.write("thread " + std::to_string(t) + " line " + std::to_string(i));
        }
      });
    }
    for (auto& writer : writers) writer.join();
    EXPECT_EQ(log.dropped(), 0u);
  }  // closing the log writes out what it holds
  std::rewind(out);
  std::string text;
  char buffer[65536];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, out)) > 0;) text.append(buffer, n);
  std::fclose(out);
  std::map<int, int> next;  // thread -> the line expected next
  std::istringstream lines(text);
  int count = 0;
  for (std::string line; std::getline(lines, line); ++count) {
    int thread = -1;
    int index = -1;
    ASSERT_EQ(std::sscanf(line.c_str(), "thread %d line %d", &thread, &index), 2) << line;
    ASSERT_EQ(line, "thread " + std::to_string(thread) + " line " + std::to_string(index));
    ASSERT_EQ(index, next[thread]) << "thread " << thread;
    next[thread] = index + 1;
  }
  EXPECT_EQ(count, kThreads * kLines);
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(next[t], kLines) << "thread " << t;
}

}  // namespace
}  // namespace mg::gateway
