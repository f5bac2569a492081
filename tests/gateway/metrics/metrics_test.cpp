// The in-flight gauge: requests begun and ended on different threads (a request may end on
// another thread than the one that began it) add up to the requests still in flight.
#include "gateway/metrics/metrics.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace mg::gateway {
namespace {

class NoModels : public ServerState {
 public:
  std::vector<VersionState> versions() const override { return {}; }
  std::vector<BackendState> backends() const override { return {}; }
};

std::string inflight_line(const Metrics& metrics) {
  std::istringstream lines(metrics.scrape());
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("modelgate_inflight_requests ", 0) == 0) return line;
  }
  return "";
}

TEST(Metrics, InflightRequestsBegunAndEndedOnDifferentThreadsAddUp) {
  const NoModels state;
  Metrics metrics("test", state);
  EXPECT_EQ(inflight_line(metrics), "modelgate_inflight_requests 0");
  auto on_threads = [&](int threads, int delta, int times) {
    std::vector<std::thread> running;
    for (int t = 0; t < threads; ++t) {
      running.emplace_back([&] {
        for (int i = 0; i < times; ++i) metrics.add_inflight(delta);
      });
    }
    for (auto& t : running) t.join();
  };
  on_threads(6, +1, 1000);  // 6,000 begun on six threads
  EXPECT_EQ(inflight_line(metrics), "modelgate_inflight_requests 6000");
  on_threads(4, -1, 1499);  // 5,996 of them ended on four others
  EXPECT_EQ(inflight_line(metrics), "modelgate_inflight_requests 4");
  metrics.add_inflight(-4);
  EXPECT_EQ(inflight_line(metrics), "modelgate_inflight_requests 0");
}

}  // namespace
}  // namespace mg::gateway
