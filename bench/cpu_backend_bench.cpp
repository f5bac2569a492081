// The CPU backend on the seed models, through the plugin host and the real libmg_cpu.so:
// one execute per iteration (input already in memory, outputs copied into host buffers),
// at batch 1, 16 (about the mean batch a gathering socket thread runs under 64 connections)
// and 64 with 1 and 2 kernel threads; the CNN also with direct convolutions
// ("fashion-cnn+direct", model config "conv_winograd": false; batched, it takes Winograd by
// default). bench/cpu_vs_ort.js runs it
// beside ONNX Runtime and prints the ratio.
//
// usage: cpu_backend_bench [google-benchmark flags]   (MG_PLUGIN_DIR, MG_EXAMPLES_DIR
// override the build-time locations)
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "bench/seed_models.h"
#include "common/log.h"
#include "gateway/plugin_host/backend.h"

namespace {

using namespace mg::gateway;
using mg::bench::read_file;
using mg::bench::SeedModel;

std::string env_or(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value ? value : fallback;
}

std::shared_ptr<Backend> backend() {
  static auto b = Backend::open(
      std::filesystem::path(env_or("MG_PLUGIN_DIR", MG_DEFAULT_PLUGIN_DIR)) / "libmg_cpu.so", "{}");
  return b;
}

void run_model(benchmark::State& state, const SeedModel& seed, int64_t batch, int threads,
               const std::string& more_config) {
  const std::filesystem::path models = env_or("MG_EXAMPLES_DIR", MG_DEFAULT_EXAMPLES_DIR);
  const std::string bytes = read_file(models / "models" / (std::string(seed.name) + ".onnx"));
  const std::string reference =
      read_file(models / "models" / (std::string(seed.name) + ".input.bin"));
  auto model = Model::load(
      backend(), seed.name, std::as_bytes(std::span(bytes.data(), bytes.size())), "",
      R"({"max_batch_size": 64, "threads": )" + std::to_string(threads) + more_config + "}");
  auto instance = model->create_instance(0);
  // The 16 reference examples, repeated to fill the batch.
  std::string input(static_cast<std::size_t>(batch) * seed.row_bytes, '\0');
  const std::size_t rows = reference.size() / seed.row_bytes;
  for (int64_t r = 0; r < batch; ++r) {
    std::memcpy(input.data() + r * seed.row_bytes,
                reference.data() + (static_cast<std::size_t>(r) % rows) * seed.row_bytes,
                seed.row_bytes);
  }
  BatchInput in;
  in.inputs.push_back(
      {seed.input, seed.dtype, seed.batch_shape(batch), input.data(), input.size()});
  in.request_rows = {static_cast<uint64_t>(batch)};
  for (auto _ : state) {
    BatchOutput out = instance->execute(in);
    if (out.request_failures[0]) {
      state.SkipWithError(out.request_failures[0]->message.c_str());
      break;
    }
    benchmark::DoNotOptimize(out.outputs[0].data.get());
  }
  state.SetItemsProcessed(state.iterations() * batch);
}

}  // namespace

int main(int argc, char** argv) {
  mg::set_log_sink([](mg::LogLevel, std::string_view) {});
  struct Variant {
    std::string suffix, more_config;  // more_config: `, "key": value` for the model config
  };
  for (const auto& seed : mg::bench::seed_models()) {
    std::vector<Variant> variants{{"", ""}};
    if (seed.name == std::string("fashion-cnn")) {
      variants.push_back({"+direct", R"(, "conv_winograd": false)"});
    }
    for (const Variant& variant : variants) {
      for (int64_t batch : {1, 16, 64}) {
        for (int threads : {1, 2}) {
          std::string name = std::string(seed.name) + variant.suffix + "/b" +
                             std::to_string(batch) + "/t" + std::to_string(threads);
          benchmark::RegisterBenchmark(name.c_str(),
                                       [&seed, batch, threads, variant](benchmark::State& s) {
                                         run_model(s, seed, batch, threads, variant.more_config);
                                       })
              ->UseRealTime()
              ->Unit(benchmark::kMicrosecond);
        }
      }
    }
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
