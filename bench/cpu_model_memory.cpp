// Memory cost of each seed model on the CPU backend: resident set size before loading,
// after loading (model + optimised graph), and after a batch-64 run (activation buffers
// pooled by the instance), against the model file's size. A first load and run, whose
// memory is then released, takes the one-time costs out of the figures: ONNX's operator
// schema registry, protobuf, oneDNN's JIT kernels and the OpenMP runtime.
// usage: cpu_model_memory MODEL_NAME|PATH.onnx [MORE_CONFIG]   (one model per process, so
// numbers do not mix; MORE_CONFIG adds to the model config, e.g. '"conv_winograd": true')
#include <malloc.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "bench/seed_models.h"
#include "common/log.h"
#include "gateway/plugin_host/backend.h"

namespace {

using namespace mg::gateway;
using mg::bench::read_file;

// A "VmRSS:" (current) or "VmHWM:" (peak) figure of this process, in KiB.
long status_kib(const char* field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(std::strlen(field)));
  }
  return -1;
}

long rss_kib() { return status_kib("VmRSS:"); }

}  // namespace

// A model file given by path (e.g. the zoo's, tests/plugins/cpu/zoo/make_zoo.py): the
// load figure only, as its input is not a seed model's.
int measure_file(const std::filesystem::path& path, const std::shared_ptr<Backend>& backend) {
  const std::string bytes = read_file(path);
  long before = 0, loaded = 0;
  for (int round = 0; round < 2; ++round) {
    malloc_trim(0);
    before = rss_kib();
    auto model =
        Model::load(backend, "m", std::as_bytes(std::span(bytes.data(), bytes.size())), "", "{}");
    auto instance = model->create_instance(0);
    loaded = rss_kib();
  }
  const double file_kib = static_cast<double>(bytes.size()) / 1024;
  std::printf("| %s | %.0f | %ld | %.2f | | %ld |\n", path.parent_path().filename().c_str(),
              file_kib, loaded - before, static_cast<double>(loaded - before) / file_kib,
              status_kib("VmHWM:"));
  return 0;
}

int main(int argc, char** argv) {
  if (argc != 2 && argc != 3) {
    std::fprintf(stderr, "usage: cpu_model_memory MODEL_NAME|PATH.onnx [MORE_CONFIG]\n");
    return 2;
  }
  const std::string more_config = argc == 3 ? std::string(", ") + argv[2] : "";
  mg::set_log_sink([](mg::LogLevel, std::string_view) {});
  const std::string name = argv[1];
  const std::filesystem::path models = std::filesystem::path(MG_DEFAULT_EXAMPLES_DIR) / "models";
  auto backend = Backend::open(std::filesystem::path(MG_DEFAULT_PLUGIN_DIR) / "libmg_cpu.so", "{}");
  if (name.ends_with(".onnx")) return measure_file(name, backend);
  const mg::bench::SeedModel& seed = mg::bench::seed_model(name);
  std::string input(64 * seed.row_bytes, '\0');
  std::string bytes = read_file(models / (name + ".onnx"));
  long before = 0, loaded = 0, ran = 0;
  for (int round = 0; round < 2; ++round) {
    malloc_trim(0);
    before = rss_kib();
    auto model = Model::load(backend, name, std::as_bytes(std::span(bytes.data(), bytes.size())),
                             "", R"({"max_batch_size": 64)" + more_config + "}");
    auto instance = model->create_instance(0);
    loaded = rss_kib();
    BatchInput batch;
    batch.inputs.push_back(
        {seed.input, seed.dtype, seed.batch_shape(64), input.data(), input.size()});
    batch.request_rows = {64};
    BatchOutput out = instance->execute(batch);
    ran = rss_kib();
  }
  const double file_kib = static_cast<double>(bytes.size()) / 1024;
  const std::string label = argc == 3 ? name + " (" + argv[2] + ")" : name;
  std::printf("| %s | %.0f | %ld | %.2f | %ld | %ld |\n", label.c_str(), file_kib, loaded - before,
              static_cast<double>(loaded - before) / file_kib, ran - loaded, status_kib("VmHWM:"));
  return 0;
}
