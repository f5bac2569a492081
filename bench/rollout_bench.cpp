// What a canary costs per request (docs/evaluation.md "Canary"): the same batch-1 MLP
// inference request (KServe v2 JSON, bearer key, real CPU backend) through the router with
// the default alias on one version, split 90/10 per request, and split sticky by key —
// alternated in one run — and the catalogue's choice alone (resolve vs a weighted route);
// and a caller's p50/p99 with the shadow off and copying every request.
// Run: build/bench/rollout_bench --benchmark_repetitions=5 --benchmark_enable_random_interleaving
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "common/log.h"
#include "gateway/api/router.h"
#include "gateway/auth/authenticator.h"
#include "gateway/plugin_host/backend_manager.h"
#include "gateway/serving/model_repository.h"
#include "registry/registry.h"

namespace {

using namespace mg::gateway;
namespace registry = mg::registry;

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

struct World {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("rollout-bench-" + std::to_string(getpid()));
  std::unique_ptr<registry::Registry> reg;
  BackendManager backends;
  std::unique_ptr<ModelRepository> models;
  std::unique_ptr<Authenticator> auth;
  std::unique_ptr<Services> services;
  std::string key, body;

  World() {
    mg::set_log_sink([](mg::LogLevel, std::string_view) {});
    std::filesystem::remove_all(dir);
    reg = std::make_unique<registry::Registry>(registry::RegistryOptions{dir});
    backends.discover({MG_PLUGIN_DIR});
    models = std::make_unique<ModelRepository>(*reg, backends);
    const std::string examples = MG_EXAMPLES_DIR;
    const std::string model = read_file(examples + "/models/fashion-mlp.onnx");
    reg->create_model({"m", "cpu", "", R"({"max_batch_size": 8, "instances": 1})"}, "bench");
    for (int i = 0; i < 3; ++i) {
      reg->add_version("m", reg->artifacts().put(std::as_bytes(std::span(model))), "", "bench");
    }
    models->switch_alias("m", "default", 1, "bench");
    // Every version loaded once: the splits below only move the alias.
    models->switch_alias("m", "keep2", 2, "bench");
    models->switch_alias("m", "keep3", 3, "bench");
    std::array<unsigned char, 32> master{};
    auth = std::make_unique<Authenticator>(*reg, KeyCrypto(master));
    reg->create_tenant("acme", 0, registry::QuotaPeriod::kMonth, "bench");
    key = auth->issue_key(KeySpec{"acme", registry::kScopeInfer}, "bench").key;
    services = std::make_unique<Services>(Services{*reg, *models, backends, *auth, "bench"});
    const std::string input = read_file(examples + "/models/fashion-mlp.input.bin");
    boost::json::array data;
    for (int i = 0; i < 784; ++i) {
      float v;
      std::memcpy(&v, input.data() + i * 4, 4);
      data.emplace_back(static_cast<double>(v));
    }
    body = boost::json::serialize(boost::json::object{
        {"inputs",
         boost::json::array{boost::json::object{
             {"name", "image"}, {"datatype", "FP32"}, {"shape", {1, 28, 28}}, {"data", data}}}}});
  }
  ~World() {
    services.reset();
    auth.reset();
    models.reset();
    reg.reset();
    std::filesystem::remove_all(dir);
  }
};

World& world() {
  static World w;
  return w;
}

// 0: one version; 1: 90/10 per request; 2: 90/10 sticky by key.
void set_default(World& w, int split) {
  if (split == 0) {
    w.reg->set_alias("m", "default", 1, "bench");
  } else {
    w.reg->set_alias_split("m", "default", {{1, 90}, {2, 10}}, split == 2, "bench");
  }
}

void BM_InferThroughDefault(benchmark::State& state) {
  World& w = world();
  set_default(w, static_cast<int>(state.range(0)));
  const HttpRequest request{
      "POST", "/v2/models/m/infer", {{"Authorization", "Bearer " + w.key}}, w.body};
  for (auto _ : state) {
    HttpResponse r = route(request, *w.services);
    if (r.status != 200) state.SkipWithError("not 200");
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_InferThroughDefault)->ArgName("split")->Arg(0)->Arg(1)->Arg(2);

// A caller's latency (p50, p99 counters) with the model's shadow off (share 0) and copying
// 10 % and 100 % of requests to an identical candidate: each copy is handed to the
// candidate's batcher before the caller's answer is encoded, and runs on its thread,
// competing for the same two cores.
void BM_CallerLatencyWithShadow(benchmark::State& state) {
  World& w = world();
  set_default(w, 0);
  const std::string shadow = R"({"version":3,"alias":"default","share":)" +
                             std::to_string(static_cast<double>(state.range(0)) / 100) + "}";
  w.reg->set_model_section("m", "shadow", state.range(0) == 0 ? "" : shadow, "bench");
  const HttpRequest request{
      "POST", "/v2/models/m/infer", {{"Authorization", "Bearer " + w.key}}, w.body};
  std::vector<double> us;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    HttpResponse r = route(request, *w.services);
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
                     .count());
    if (r.status != 200) state.SkipWithError("not 200");
  }
  std::sort(us.begin(), us.end());
  state.counters["p50_us"] = us[us.size() / 2];
  state.counters["p99_us"] = us[us.size() * 99 / 100];
  w.reg->set_model_section("m", "shadow", "", "bench");
}
BENCHMARK(BM_CallerLatencyWithShadow)
    ->ArgName("share_percent")
    ->Arg(0)
    ->Arg(10)
    ->Arg(100)
    ->Iterations(20000);

// The catalogue's choice alone: a plain alias's resolve against a split's route.
void BM_CatalogChoice(benchmark::State& state) {
  World& w = world();
  set_default(w, static_cast<int>(state.range(0)));
  uint64_t draw = 0x9e3779b97f4a7c15ULL;
  for (auto _ : state) {
    draw = draw * 6364136223846793005ULL + 1442695040888963407ULL;
    auto v = w.reg->snapshot().route("m", "default", draw, draw >> 7);
    benchmark::DoNotOptimize(v);
  }
}
BENCHMARK(BM_CatalogChoice)->ArgName("split")->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
