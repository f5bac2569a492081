// What authentication, rate limiting, the tenant quota and usage metering cost per request
// (the speed targets): the exact calls the router makes, without HTTP or a model, with 1 and
// 2 threads. Bearer keys hash the presented key (HMAC-SHA256); signed requests also hash a
// 3 KB body and check an HMAC and a nonce. Run: build/bench/auth_path_bench
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <vector>

#include "common/log.h"
#include "gateway/auth/authenticator.h"
#include "gateway/limits/limits.h"
#include "modelgate/client.h"
#include "registry/registry.h"

namespace {

using namespace mg::gateway;
namespace registry = mg::registry;

struct World {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("auth-bench-" + std::to_string(getpid()));
  std::unique_ptr<registry::Registry> reg;
  std::unique_ptr<Authenticator> auth;
  std::unique_ptr<Limits> limits;
  std::string key;
  std::string body = std::string(3200, 'x');  // about a batch-1 MLP request in binary

  World() {
    mg::set_log_sink([](mg::LogLevel, std::string_view) {});
    std::filesystem::remove_all(dir);
    reg = std::make_unique<registry::Registry>(registry::RegistryOptions{dir});
    std::array<unsigned char, 32> master{};
    auth = std::make_unique<Authenticator>(*reg, KeyCrypto(master));
    limits = std::make_unique<Limits>(*reg);
    reg->create_tenant("acme", int64_t{1} << 50, registry::QuotaPeriod::kMonth, "bench");
    KeySpec spec{"acme", registry::kScopeInfer};
    spec.rate = 1e12;  // limited (the bucket is consulted) but never refused
    key = auth->issue_key(spec, "bench").key;
  }
  ~World() {
    limits.reset();
    auth.reset();
    reg.reset();
    std::filesystem::remove_all(dir);
  }
};

World& world() {
  static World w;
  return w;
}

// The router's steps after authentication: rate, quota, usage.
void admit_and_meter(World& w, const Principal& p) {
  const int64_t now_ms = w.limits->clock_ms();
  auto rate = w.limits->rates.take(p.key_id, p.rate, p.burst, now_ms * 1'000'000);
  auto quota = w.limits->quotas.take(p.tenant, int64_t{1} << 50, registry::QuotaPeriod::kMonth,
                                     now_ms / 1000);
  w.limits->usage.record(p.tenant, p.key_id, "fashion-mlp", 1, 1, false, now_ms / 1000);
  benchmark::DoNotOptimize(rate);
  benchmark::DoNotOptimize(quota);
}

void BM_BearerAuthLimitsAndMetering(benchmark::State& state) {
  World& w = world();
  HttpRequest request{
      "POST", "/v2/models/fashion-mlp/infer", {{"Authorization", "Bearer " + w.key}}, w.body};
  for (auto _ : state) {
    Principal p = w.auth->authenticate(request);
    Authenticator::require_scope(p, registry::kScopeInfer);
    Authenticator::require_model(p, "fashion-mlp");
    admit_and_meter(w, p);
  }
}
BENCHMARK(BM_BearerAuthLimitsAndMetering)->Threads(1)->Threads(2)->UseRealTime();

void BM_BearerAuthOnly(benchmark::State& state) {
  World& w = world();
  HttpRequest request{
      "POST", "/v2/models/fashion-mlp/infer", {{"Authorization", "Bearer " + w.key}}, w.body};
  for (auto _ : state) benchmark::DoNotOptimize(w.auth->authenticate(request));
}
BENCHMARK(BM_BearerAuthOnly)->Threads(1)->Threads(2)->UseRealTime();

// Signed requests are made up front (fresh nonces, as a client would send them), so only
// the server's side is timed.
std::vector<HttpRequest> signed_requests(World& w, int count) {
  static std::atomic<uint64_t> counter{0};
  const std::string id = w.key.substr(3, 12);
  const std::string body_hash = modelgate::sha256_hex(w.body);
  const std::string ts = std::to_string(time(nullptr));
  std::vector<HttpRequest> requests;
  for (int i = 0; i < count; ++i) {
    const std::string nonce = "bench-nonce-" + std::to_string(counter++) + "-xxxxxxxx";
    requests.push_back(HttpRequest{
        "POST",
        "/v2/models/fashion-mlp/infer",
        {{"X-MG-Key-Id", id},
         {"X-MG-Timestamp", ts},
         {"X-MG-Nonce", nonce},
         {"X-MG-Signature", modelgate::sign_request(w.key, "POST", "/v2/models/fashion-mlp/infer",
                                                    ts, nonce, body_hash)}},
        w.body});
  }
  return requests;
}

constexpr int kSignedIterations = 20000;

void BM_SignedAuthLimitsAndMetering(benchmark::State& state) {
  World& w = world();
  std::vector<HttpRequest> requests = signed_requests(w, kSignedIterations);
  std::size_t next = 0;
  for (auto _ : state) {
    Principal p = w.auth->authenticate(requests[next++]);
    admit_and_meter(w, p);
  }
}
// Every nonce stays in the replay cache for its 300 s: a fixed number of iterations.
BENCHMARK(BM_SignedAuthLimitsAndMetering)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime()
    ->Iterations(kSignedIterations);

}  // namespace

BENCHMARK_MAIN();
