// The in-flight gauge: requests begun and ended on different threads (a request may end on
// another thread than the one that began it) add up to the requests still in flight. The
// per-request series, counted in per-thread shares, come out whole at every scrape.
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

// The scrape's line for the series `series` (name and labels), or "".
std::string line_of(const std::string& scraped, const std::string& series) {
  std::istringstream lines(scraped);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(series + " ", 0) == 0) return line;
  }
  return "";
}

// A server with one version of one model.
class OneVersion : public ServerState {
 public:
  std::vector<VersionState> versions() const override { return {{"m", 3, "ready"}}; }
  std::vector<BackendState> backends() const override { return {}; }
};

std::string inflight_line(const Metrics& metrics) {
  return line_of(metrics.scrape(), "modelgate_inflight_requests");
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

TEST(Metrics, RequestSeriesCountedOnManyThreadsAddUpAtEveryScrape) {
  const NoModels state;
  Metrics metrics("test", state);
  auto requests = [&](int threads, int times) {
    std::vector<std::thread> running;
    for (int t = 0; t < threads; ++t) {
      running.emplace_back([&] {
        for (int i = 0; i < times; ++i) {
          // 1 ms end to end (bucket le=0.001), 0.2 ms queued (le=0.00025), 2 items; every
          // tenth over gRPC
          metrics.observe_inference("m", 3, "ok", 2, 0.001, 0.0002, i % 10 == 0 ? "grpc" : "http");
          metrics.count_tenant_request("acme");
        }
        metrics.observe_inference("m", 3, "bad_request", 0, 0.5, -1);
      });
    }
    for (auto& t : running) t.join();
  };
  const std::string m = R"(model="m",version="3")";
  auto expect_totals = [&](int n, int threads) {  // n ok requests on `threads` threads
    const std::string scraped = metrics.scrape();
    const int grpc = n / 10;
    EXPECT_EQ(
        line_of(
            scraped,
            R"(modelgate_inference_requests_total{model="m",outcome="ok",protocol="http",version="3"})"),
        R"(modelgate_inference_requests_total{model="m",outcome="ok",protocol="http",version="3"} )" +
            std::to_string(n - grpc));
    EXPECT_EQ(
        line_of(
            scraped,
            R"(modelgate_inference_requests_total{model="m",outcome="ok",protocol="grpc",version="3"})"),
        R"(modelgate_inference_requests_total{model="m",outcome="ok",protocol="grpc",version="3"} )" +
            std::to_string(grpc));
    EXPECT_EQ(line_of(scraped, "modelgate_inference_items_total{" + m + "}"),
              "modelgate_inference_items_total{" + m + "} " + std::to_string(2 * n));
    const int all = n + threads;  // and one bad request per thread, 0.5 s each
    EXPECT_EQ(line_of(scraped, "modelgate_request_duration_seconds_count{" + m + "}"),
              "modelgate_request_duration_seconds_count{" + m + "} " + std::to_string(all));
    EXPECT_EQ(
        line_of(scraped,
                R"(modelgate_request_duration_seconds_bucket{model="m",version="3",le="0.001"})"),
        R"(modelgate_request_duration_seconds_bucket{model="m",version="3",le="0.001"} )" +
            std::to_string(n));
    EXPECT_EQ(
        line_of(scraped,
                R"(modelgate_request_duration_seconds_bucket{model="m",version="3",le="0.5"})"),
        R"(modelgate_request_duration_seconds_bucket{model="m",version="3",le="0.5"} )" +
            std::to_string(all));
    const std::string sum = line_of(scraped, "modelgate_request_duration_seconds_sum{" + m + "}");
    ASSERT_FALSE(sum.empty());
    EXPECT_NEAR(std::stod(sum.substr(sum.rfind(' ') + 1)), n * 0.001 + threads * 0.5, 1e-6);
    EXPECT_EQ(
        line_of(scraped,
                R"(modelgate_queue_duration_seconds_bucket{model="m",version="3",le="0.0001"})"),
        R"(modelgate_queue_duration_seconds_bucket{model="m",version="3",le="0.0001"} 0)");
    EXPECT_EQ(
        line_of(scraped,
                R"(modelgate_queue_duration_seconds_bucket{model="m",version="3",le="0.00025"})"),
        R"(modelgate_queue_duration_seconds_bucket{model="m",version="3",le="0.00025"} )" +
            std::to_string(n));
    EXPECT_EQ(line_of(scraped, R"(modelgate_tenant_requests_total{tenant="acme"})"),
              R"(modelgate_tenant_requests_total{tenant="acme"} )" + std::to_string(n));
  };
  requests(11, 1000);  // more threads than shards
  expect_totals(11'000, 11);
  expect_totals(11'000, 11);  // a scrape with nothing new changes nothing
  requests(3, 1000);          // the next scrape adds to what the last one showed
  expect_totals(14'000, 14);
}

// A version's series are at zero from the first scrape after it exists, before its first
// request: Prometheus's rate() and histogram_quantile() count only increases between two
// scrapes, so a series born with its first requests' counts hid them (a burst answered
// between two scrapes had no rate at all).
TEST(Metrics, AVersionsSeriesAreAtZeroBeforeItsFirstRequest) {
  const OneVersion state;
  Metrics metrics("test", state);
  const std::string count = R"(modelgate_request_duration_seconds_count{model="m",version="3"})";
  const std::string ok =
      R"(modelgate_inference_requests_total{model="m",outcome="ok",protocol="http",version="3"})";
  const std::string items = R"(modelgate_inference_items_total{model="m",version="3"})";
  std::string scraped = metrics.scrape();
  EXPECT_EQ(line_of(scraped, count), count + " 0");
  EXPECT_EQ(line_of(scraped, ok), ok + " 0");
  EXPECT_EQ(line_of(scraped, items), items + " 0");
  metrics.observe_inference("m", 3, "ok", 2, 0.001, 0.0002);
  scraped = metrics.scrape();
  EXPECT_EQ(line_of(scraped, count), count + " 1");
  EXPECT_EQ(line_of(scraped, ok), ok + " 1");
  EXPECT_EQ(line_of(scraped, items), items + " 2");
  // A version the server does not have gets no series until a request names it.
  EXPECT_EQ(line_of(scraped, R"(modelgate_inference_items_total{model="m",version="4"})"), "");
}

}  // namespace
}  // namespace mg::gateway
