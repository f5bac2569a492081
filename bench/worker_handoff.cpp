// The cost of running a backend out of process, per batch: the CPU backend's seed models
// executed inline (Instance::execute) and in a modelgate-worker (WorkerProcess::execute:
// inputs copied into the lane's shared memory, a message each way on a Unix socket,
// outputs copied back), alternating in blocks in one run. Prints p50/p99 per mode and the
// added latency.
// usage: worker_handoff [ROUNDS]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/seed_models.h"
#include "gateway/plugin_host/worker_process.h"

namespace {

using namespace mg;
using namespace mg::gateway;
using Clock = std::chrono::steady_clock;

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  return values[static_cast<std::size_t>(p * static_cast<double>(values.size() - 1))];
}

struct Case {
  const char* model;
  int64_t rows;
  int calls_per_block;
};

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 5;
  const std::filesystem::path plugin =
      std::filesystem::path(MG_DEFAULT_PLUGIN_DIR) / "libmg_cpu.so";
  const std::string config = R"({"max_batch_size": 64})";
  auto backend = Backend::open(plugin, "{}");
  std::printf("%-12s %5s | %-22s | %-22s | %s\n", "model", "rows", "inline p50 / p99 (us)",
              "worker p50 / p99 (us)", "added p50 / p99 (us)");
  for (const Case c : {Case{"fashion-mlp", 1, 2000}, Case{"fashion-mlp", 64, 200},
                       Case{"fashion-cnn", 1, 500}, Case{"fashion-cnn", 64, 20}}) {
    const bench::SeedModel& seed = bench::seed_model(c.model);
    const std::string bytes = bench::read_file(std::filesystem::path(MG_DEFAULT_EXAMPLES_DIR) /
                                               "models" / (std::string(c.model) + ".onnx"));
    const auto artifact = std::as_bytes(std::span(bytes.data(), bytes.size()));
    auto inline_instance = Model::load(backend, c.model, artifact, "", config)->create_instance(0);
    WorkerProcess::Options options;
    options.binary = MG_WORKER_BINARY;
    options.backend = "cpu";
    worker::LoadRequest request;
    request.plugin_path = plugin.string();
    request.backend_config = "{}";
    request.model_name = c.model;
    request.model_config = config;
    auto process = WorkerProcess::start(options, request, artifact);

    std::vector<float> values(static_cast<std::size_t>(c.rows) * seed.row_bytes / 4);
    for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i % 251) / 251;
    BatchInput batch;
    batch.inputs.push_back(TensorRef{seed.input, seed.dtype, seed.batch_shape(c.rows),
                                     values.data(), values.size() * sizeof(float)});
    batch.request_rows = {static_cast<uint64_t>(c.rows)};
    std::vector<double> in_server, in_worker;
    for (int round = 0; round <= rounds; ++round) {  // round 0 warms both up, unrecorded
      for (int mode = 0; mode < 2; ++mode) {
        for (int i = 0; i < c.calls_per_block; ++i) {
          const auto start = Clock::now();
          const BatchOutput out =
              mode == 0 ? inline_instance->execute(batch) : process->execute(0, batch);
          const double us = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
          if (out.batch_failure || out.outputs.empty()) {
            std::fprintf(stderr, "%s: the batch failed\n", c.model);
            return 1;
          }
          if (round > 0) (mode == 0 ? in_server : in_worker).push_back(us);
        }
      }
    }
    const double p50 = percentile(in_server, 0.5), p99 = percentile(in_server, 0.99);
    const double w50 = percentile(in_worker, 0.5), w99 = percentile(in_worker, 0.99);
    std::printf(
        "%-12s %5lld | %9.1f / %9.1f  | %9.1f / %9.1f  | %+8.1f / %+8.1f  (p50 ratio %.3f)\n",
        c.model, static_cast<long long>(c.rows), p50, p99, w50, w99, w50 - p50, w99 - p99,
        w50 / p50);
  }
  return 0;
}
