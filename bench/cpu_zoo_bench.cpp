// The CPU backend on the model zoo (tests/plugins/cpu/zoo/make_zoo.py), driven as an
// outside host would: through the plugin host and the real libmg_cpu.so, one execute per
// iteration (input in memory, outputs into host buffers), at batch 1 and 8 with 1 and 2
// kernel threads, after five untimed runs. bench/cpu_zoo_vs_ort.js runs it beside ONNX
// Runtime.
//
// usage: cpu_zoo_bench ZOO_DIR [google-benchmark flags]   (MG_PLUGIN_DIR overrides the
// plugin directory); ZOO_DIR holds zoo_NAME/model.onnx and test_data_set_0/input_0.pb.
#include <benchmark/benchmark.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/seed_models.h"
#include "common/log.h"
#include "gateway/plugin_host/backend.h"

namespace {

namespace fs = std::filesystem;
using namespace mg::gateway;
using mg::bench::read_file;

std::shared_ptr<Backend> backend() {
  const char* dir = std::getenv("MG_PLUGIN_DIR");
  static auto b = Backend::open(fs::path(dir ? dir : MG_DEFAULT_PLUGIN_DIR) / "libmg_cpu.so", "{}");
  return b;
}

void run_case(benchmark::State& state, const fs::path& dir, int64_t batch, int threads) {
  const std::string bytes = read_file(dir / "model.onnx");
  onnx::TensorProto example;
  if (!example.ParseFromString(read_file(dir / "test_data_set_0" / "input_0.pb")) ||
      example.raw_data().empty() || example.dims_size() == 0) {
    state.SkipWithError("input_0.pb is not a raw tensor");
    return;
  }
  const DType dtype =
      example.data_type() == onnx::TensorProto::INT64 ? DType::kInt64 : DType::kFp32;
  std::vector<int64_t> shape(example.dims().begin(), example.dims().end());
  // Row 0 of the example, repeated to fill the batch.
  const std::size_t row = example.raw_data().size() / static_cast<std::size_t>(shape[0]);
  shape[0] = batch;
  std::string input(row * static_cast<std::size_t>(batch), '\0');
  for (int64_t r = 0; r < batch; ++r)
    std::memcpy(input.data() + r * row, example.raw_data().data(), row);
  auto model = Model::load(backend(), dir.filename().string(),
                           std::as_bytes(std::span(bytes.data(), bytes.size())), "",
                           R"({"threads": )" + std::to_string(threads) + "}");
  auto instance = model->create_instance(0);
  BatchInput in;
  in.inputs.push_back({"input", dtype, shape, input.data(), input.size()});
  in.request_rows = {1};
  // Five runs before timing, as the ONNX Runtime side does: the first runs fault in the
  // buffer pool's pages and make the primitives deferred to first use (bench/
  // cpu_first_request.cpp measures those), and are not what a warm server pays.
  for (int i = 0; i < 5; ++i) {
    if (BatchOutput out = instance->execute(in); out.request_failures[0]) {
      state.SkipWithError(out.request_failures[0]->message.c_str());
      return;
    }
  }
  for (auto _ : state) {
    BatchOutput out = instance->execute(in);
    if (out.request_failures[0]) {
      state.SkipWithError(out.request_failures[0]->message.c_str());
      break;
    }
    benchmark::DoNotOptimize(out.outputs[0].data.get());
  }
}

}  // namespace

int main(int argc, char** argv) {
  mg::set_log_sink([](mg::LogLevel, std::string_view) {});
  if (argc < 2) {
    std::fprintf(stderr, "usage: cpu_zoo_bench ZOO_DIR [google-benchmark flags]\n");
    return 2;
  }
  std::vector<fs::path> cases;
  for (const auto& entry : fs::directory_iterator(argv[1])) {
    if (entry.is_directory() && fs::exists(entry.path() / "model.onnx"))
      cases.push_back(entry.path());
  }
  std::sort(cases.begin(), cases.end());
  for (const auto& dir : cases) {
    for (int64_t batch : {1, 8}) {
      for (int threads : {1, 2}) {
        const std::string name = dir.filename().string().substr(4) + "/b" + std::to_string(batch) +
                                 "/t" + std::to_string(threads);
        benchmark::RegisterBenchmark(
            name.c_str(),
            [dir, batch, threads](benchmark::State& s) { run_case(s, dir, batch, threads); })
            ->UseRealTime()
            ->Unit(benchmark::kMicrosecond);
      }
    }
  }
  argv[1] = argv[0];  // Google Benchmark reads the flags after the directory
  int rest = argc - 1;
  benchmark::Initialize(&rest, argv + 1);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
