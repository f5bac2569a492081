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

#include "plugin_host/backend.h"
#include "plugin_host/log.h"

namespace {

using namespace mg::gateway;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

int main(int argc, char** argv) {
  set_log_sink([](LogLevel, std::string_view) {});
  const std::string name = argc > 1 ? argv[1] : "fashion-cnn";
  const bool text = name == "text-classifier";
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
  const std::size_t row = text ? 32 * 8 : 28 * 28 * 4;
  std::string input(64 * row, '\0');
  for (uint64_t rows : {1, 8, 64}) {
    BatchInput batch;
    auto shape = text                    ? std::vector<int64_t>{int64_t(rows), 32}
                 : name == "fashion-cnn" ? std::vector<int64_t>{int64_t(rows), 1, 28, 28}
                                         : std::vector<int64_t>{int64_t(rows), 28, 28};
    batch.inputs.push_back({model->metadata().inputs[0].name, text ? DType::kInt64 : DType::kFp32,
                            shape, input.data(), rows * row});
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
