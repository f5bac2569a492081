// Cold start of the CPU backend: how long the plugin takes to start, a seed model to load,
// and its first requests at batch sizes 1, 8 and 64 against the second of each — what a
// just-started server's first clients see (JIT compilation, first buffers).
// usage: cpu_first_request [MODEL_NAME]   (default fashion-cnn; one process per run)
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "bench/seed_models.h"
#include "common/log.h"
#include "gateway/plugin_host/backend.h"

namespace {

using namespace mg::gateway;
using Clock = std::chrono::steady_clock;
using mg::bench::read_file;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  mg::set_log_sink([](mg::LogLevel, std::string_view) {});
  const std::string name = argc > 1 ? argv[1] : "fashion-cnn";
  const mg::bench::SeedModel& seed = mg::bench::seed_model(name);
  const std::string bytes =
      read_file(std::filesystem::path(MG_DEFAULT_EXAMPLES_DIR) / "models" / (name + ".onnx"));
  auto start = Clock::now();
  auto backend = Backend::open(std::filesystem::path(MG_DEFAULT_PLUGIN_DIR) / "libmg_cpu.so", "{}");
  std::printf("%s: plugin start %.1f ms", name.c_str(), ms_since(start));
  start = Clock::now();
  auto model = Model::load(backend, name, std::as_bytes(std::span(bytes.data(), bytes.size())), "",
                           R"({"max_batch_size": 64})");
  auto instance = model->create_instance(0);
  std::printf(", model load %.1f ms", ms_since(start));
  std::string input(64 * seed.row_bytes, '\0');
  for (uint64_t rows : {1, 8, 64}) {
    BatchInput batch;
    batch.inputs.push_back({seed.input, seed.dtype, seed.batch_shape(static_cast<int64_t>(rows)),
                            input.data(), rows * seed.row_bytes});
    batch.request_rows = {rows};
    double first = 0, second = 0;
    for (double* took : {&first, &second}) {
      start = Clock::now();
      instance->execute(batch);
      *took = ms_since(start);
    }
    std::printf(", batch %llu first %.2f / then %.2f ms", static_cast<unsigned long long>(rows),
                first, second);
  }
  std::printf("\n");
  return 0;
}
