// Registry speed: lookups on the request path (ns each, from the in-memory catalogue) and
// artifact ingest (MB/s, hashing + writing + fsync). Run through bench/registry_bench.sh,
// which also measures `dd` on the same disk for comparison.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>

#include "registry/registry.h"

namespace {

using namespace mg::registry;

std::filesystem::path bench_dir() {
  const char* dir = std::getenv("MG_BENCH_DIR");
  return dir ? dir : std::filesystem::temp_directory_path();
}

// 20 models × 50 versions, each with "default" and "production" aliases.
Registry& populated_registry() {
  static std::filesystem::path dir = bench_dir() / ("registry-lookup-" + std::to_string(getpid()));
  static std::unique_ptr<Registry> registry = [] {
    std::filesystem::remove_all(dir);
    auto r = std::make_unique<Registry>(RegistryOptions{dir});
    for (int m = 0; m < 20; ++m) {
      std::string name = "model-" + std::to_string(m);
      r->create_model({name}, "bench");
      for (int v = 0; v < 50; ++v) {
        std::string content = name + "/" + std::to_string(v);
        r->add_version(name, r->artifacts().put(std::as_bytes(std::span(content))), "", "bench");
      }
      r->set_alias(name, "default", 50, "bench");
      r->set_alias(name, "production", 42, "bench");
    }
    return r;
  }();
  return *registry;
}

void BM_ResolveAlias(benchmark::State& state) {
  Registry& registry = populated_registry();
  const std::string model = "model-7", alias = "production";
  for (auto _ : state) benchmark::DoNotOptimize(registry.resolve(model, alias));
}
BENCHMARK(BM_ResolveAlias)->Threads(1)->Threads(2);

void BM_ResolveVersionNumber(benchmark::State& state) {
  Registry& registry = populated_registry();
  const std::string model = "model-7", version = "42";
  for (auto _ : state) benchmark::DoNotOptimize(registry.resolve(model, version));
}
BENCHMARK(BM_ResolveVersionNumber)->Threads(1)->Threads(2);

// What the request path does: resolve the alias, then fetch that version's record.
void BM_ResolveAndLookUpVersion(benchmark::State& state) {
  Registry& registry = populated_registry();
  const std::string model = "model-7", alias = "default";
  for (auto _ : state) {
    auto version = registry.resolve(model, alias);
    benchmark::DoNotOptimize(registry.find_version(model, *version));
  }
}
// Holding a snapshot (shared_ptr copy): for callers that need one consistent view.
void BM_CatalogSnapshot(benchmark::State& state) {
  Registry& registry = populated_registry();
  for (auto _ : state) benchmark::DoNotOptimize(registry.catalog());
}
BENCHMARK(BM_CatalogSnapshot)->Threads(1)->Threads(2);
BENCHMARK(BM_ResolveAndLookUpVersion)->Threads(1)->Threads(2);

// Streams state.range(0) MiB in 1 MiB chunks into the store and commits (fsync, rename).
void BM_ArtifactIngest(benchmark::State& state) {
  std::filesystem::path dir = bench_dir() / ("registry-ingest-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  ArtifactStore store(dir);
  std::vector<std::byte> chunk(1 << 20);
  std::mt19937 rng(1);
  const int64_t mib = state.range(0);
  for (auto _ : state) {
    auto writer = store.begin_write();
    for (int64_t i = 0; i < mib; ++i) {
      chunk[0] = static_cast<std::byte>(rng());  // distinct content each round: no dedupe
      writer.write(chunk);
    }
    StoredArtifact stored = writer.commit();
    state.PauseTiming();
    store.remove(stored.digest);
    state.ResumeTiming();
  }
  state.SetBytesProcessed(state.iterations() * mib * (1 << 20));
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_ArtifactIngest)->Arg(256)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
