// mg-onnx-runner: runs ONNX backend-test directories (model.onnx, test_data_set_*/
// input_*.pb, output_*.pb) through the plugin host and a real backend plugin, compares the
// outputs as ONNX's own backend tests do (rtol 1e-3, atol 1e-7, or --rtol/--atol; with
// --atol-of-largest F, atol is at least F × the output's largest magnitude), and prints
//   PASS name (max abs error E) | FAIL name: why | SKIP name: why
// then "N passed, M failed, K skipped". Exit status 0 only when nothing failed.
//
// usage: mg-onnx-runner [--plugin-dir DIR] [--backend NAME] [--skip-list FILE]
//                       [--min-passed N] [--rtol R] [--atol A] [--atol-of-largest F]
//                       [--threads T] [-v] DIR...
// Each DIR is a test directory or a directory of them. --skip-list names tests to skip,
// one per line with its reason ("test_name  why"). --min-passed N also fails the run when
// fewer than N tests pass (a guard against everything quietly turning into SKIP).
// --threads T gives each model T kernel threads (default 1), so the kernels' threaded
// paths meet the same references.
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "plugins/cpu/cpu_error.h"
#include "plugins/cpu/cpu_model.h"
#include "plugins/cpu/onnx_loader.h"
#include "gateway/plugin_host/backend_error.h"
#include "gateway/plugin_host/backend_manager.h"
#include "common/log.h"

namespace fs = std::filesystem;
using mg::cpu::ElemType;
using mg::cpu::Tensor;
namespace gw = mg::gateway;

namespace {

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

Tensor read_tensor(const fs::path& path) {
  onnx::TensorProto proto;
  std::string bytes = read_file(path);
  if (!proto.ParseFromString(bytes)) {
    throw mg::cpu::CpuError(mg::cpu::CpuError::kInvalid, "cannot parse " + path.string());
  }
  return mg::cpu::tensor_from_proto(proto);
}

std::vector<fs::path> numbered(const fs::path& dir, const std::string& prefix) {
  std::vector<fs::path> files;
  for (int i = 0;; ++i) {
    fs::path file = dir / (prefix + std::to_string(i) + ".pb");
    if (!fs::exists(file)) break;
    files.push_back(file);
  }
  return files;
}

struct Tolerance {
  double rtol = 1e-3;
  double atol = 1e-7;
  double atol_of_largest = 0;  // atol at least this times the output's largest |value|
};
Tolerance tolerance;
double max_abs_error = 0;  // over the current test's outputs

// Compares as numpy.testing.assert_allclose(rtol, atol); "" when equal.
std::string compare(const Tensor& expected, const gw::OutputTensor& actual,
                    const std::string& name) {
  if (mg::cpu::to_mg_dtype(expected.type) != static_cast<int32_t>(actual.dtype)) {
    return "output '" + name + "' has dtype " + std::string(gw::dtype_name(actual.dtype)) +
           ", expected " + mg::cpu::elem_name(expected.type);
  }
  if (expected.shape != actual.shape) {
    return "output '" + name + "' has shape " + mg::cpu::shape_text(actual.shape) + ", expected " +
           mg::cpu::shape_text(expected.shape);
  }
  auto as_double = [](ElemType type, const void* data, int64_t i) -> double {
    switch (type) {
      case ElemType::kFloat:
        return static_cast<const float*>(data)[i];
      case ElemType::kDouble:
        return static_cast<const double*>(data)[i];
      case ElemType::kInt32:
        return static_cast<const int32_t*>(data)[i];
      case ElemType::kInt64:
        return static_cast<double>(static_cast<const int64_t*>(data)[i]);
      case ElemType::kInt8:
        return static_cast<const int8_t*>(data)[i];
      case ElemType::kUint8:
        return static_cast<const uint8_t*>(data)[i];
      case ElemType::kBool:
        return static_cast<const bool*>(data)[i];
      default:
        return 0;
    }
  };
  double atol = tolerance.atol;
  if (tolerance.atol_of_largest > 0) {
    double largest = 0;
    for (int64_t i = 0; i < expected.size(); ++i) {
      const double e = std::fabs(as_double(expected.type, expected.bytes, i));
      if (std::isfinite(e)) largest = std::max(largest, e);
    }
    atol = std::max(atol, tolerance.atol_of_largest * largest);
  }
  for (int64_t i = 0; i < expected.size(); ++i) {
    double e = as_double(expected.type, expected.bytes, i);
    double a = as_double(expected.type, actual.data.get(), i);
    if (std::isnan(e) && std::isnan(a)) continue;
    if (e == a) continue;
    max_abs_error = std::max(max_abs_error, std::fabs(a - e));
    if (!(std::fabs(a - e) <= atol + tolerance.rtol * std::fabs(e))) {
      std::ostringstream why;
      why << "output '" << name << "' element " << i << " is " << a << ", expected " << e;
      return why.str();
    }
  }
  return "";
}

enum class Outcome { kPass, kFail, kSkip };

struct Result {
  Outcome outcome;
  std::string why;
};

Result run_test(const std::shared_ptr<gw::Backend>& backend, const fs::path& dir,
                const std::string& model_config) {
  const fs::path model_path = dir / "model.onnx";
  const std::string bytes = read_file(model_path);
  std::shared_ptr<gw::Model> model;
  try {
    model = gw::Model::load(backend, dir.filename().string(),
                            std::as_bytes(std::span(bytes.data(), bytes.size())),
                            model_path.string(), model_config);
  } catch (const gw::BackendError& e) {
    if (e.code() == MG_ERROR_UNSUPPORTED) return {Outcome::kSkip, e.what()};
    return {Outcome::kFail, e.what()};
  }
  auto instance = model->create_instance(0);
  const gw::ModelMetadata& metadata = model->metadata();
  std::vector<fs::path> sets;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_directory() && entry.path().filename().string().starts_with("test_data_set_")) {
      sets.push_back(entry.path());
    }
  }
  std::sort(sets.begin(), sets.end());
  if (sets.empty()) return {Outcome::kFail, "no test_data_set_* directories"};
  for (const auto& set : sets) {
    auto input_files = numbered(set, "input_");
    auto output_files = numbered(set, "output_");
    if (input_files.size() != metadata.inputs.size()) {
      return {Outcome::kFail, set.filename().string() + ": " + std::to_string(input_files.size()) +
                                  " inputs for a model with " +
                                  std::to_string(metadata.inputs.size())};
    }
    std::vector<Tensor> inputs;
    gw::BatchInput batch;
    batch.request_rows = {1};
    for (std::size_t i = 0; i < input_files.size(); ++i) {
      inputs.push_back(read_tensor(input_files[i]));
      const Tensor& t = inputs.back();
      batch.inputs.push_back(gw::TensorRef{metadata.inputs[i].name,
                                           static_cast<gw::DType>(mg::cpu::to_mg_dtype(t.type)),
                                           t.shape, t.bytes, t.byte_size()});
    }
    gw::BatchOutput out;
    try {
      out = instance->execute(batch);
    } catch (const gw::BackendError& e) {
      return {Outcome::kFail, set.filename().string() + ": " + e.what()};
    }
    if (out.request_failures[0]) {
      return {Outcome::kFail, set.filename().string() + ": " + out.request_failures[0]->message};
    }
    for (std::size_t i = 0; i < output_files.size() && i < metadata.outputs.size(); ++i) {
      Tensor expected = read_tensor(output_files[i]);
      const std::string& name = metadata.outputs[i].name;
      auto it = std::find_if(out.outputs.begin(), out.outputs.end(),
                             [&](const auto& o) { return o.name == name; });
      if (it == out.outputs.end()) return {Outcome::kFail, "no output '" + name + "'"};
      std::string why = compare(expected, *it, name);
      if (!why.empty()) return {Outcome::kFail, set.filename().string() + ": " + why};
    }
  }
  return {Outcome::kPass, ""};
}

std::map<std::string, std::string> read_skip_list(const fs::path& path) {
  std::map<std::string, std::string> skips;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read skip list " + path.string());
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto space = line.find_first_of(" \t");
    std::string name = line.substr(0, space);
    std::string reason =
        space == std::string::npos ? "" : line.substr(line.find_first_not_of(" \t", space));
    if (reason.empty()) throw std::runtime_error("skip list entry '" + name + "' has no reason");
    skips[name] = reason;
  }
  return skips;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<fs::path> plugin_dirs, roots;
  std::string backend_name = "cpu";
  std::map<std::string, std::string> skips;
  bool verbose = false;
  int min_passed = 0;
  int threads = 1;
  try {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw std::runtime_error(arg + " needs a value");
        return argv[++i];
      };
      if (arg == "--plugin-dir") {
        plugin_dirs.push_back(value());
      } else if (arg == "--backend") {
        backend_name = value();
      } else if (arg == "--skip-list") {
        skips = read_skip_list(value());
      } else if (arg == "--min-passed") {
        min_passed = std::stoi(value());
      } else if (arg == "--rtol") {
        tolerance.rtol = std::stod(value());
      } else if (arg == "--atol") {
        tolerance.atol = std::stod(value());
      } else if (arg == "--atol-of-largest") {
        tolerance.atol_of_largest = std::stod(value());
      } else if (arg == "--threads") {
        threads = std::stoi(value());
        if (threads < 1) throw std::runtime_error("--threads must be at least 1");
      } else if (arg == "-v") {
        verbose = true;
      } else if (arg.starts_with("-")) {
        throw std::runtime_error("unknown option " + arg);
      } else {
        roots.push_back(arg);
      }
    }
    if (roots.empty()) throw std::runtime_error("no test directories given");
  } catch (const std::exception& e) {
    std::fprintf(stderr,
                 "mg-onnx-runner: %s\nusage: mg-onnx-runner [--plugin-dir DIR] [--backend NAME] "
                 "[--skip-list FILE] [--min-passed N] [--rtol R] [--atol A] [--atol-of-largest F] "
                 "[--threads T] [-v] DIR...\n",
                 e.what());
    return 2;
  }
  if (plugin_dirs.empty()) plugin_dirs.push_back(MG_DEFAULT_PLUGIN_DIR);
  if (!verbose) mg::set_log_sink([](mg::LogLevel, std::string_view) {});
  gw::BackendManager manager;
  manager.discover(plugin_dirs);
  auto backend = manager.find(backend_name);
  if (!backend) {
    std::fprintf(stderr, "mg-onnx-runner: no usable backend '%s' in the plugin directories\n",
                 backend_name.c_str());
    for (const auto& s : manager.statuses()) std::fprintf(stderr, "  %s\n", s.reason.c_str());
    return 2;
  }
  std::vector<fs::path> tests;
  for (const auto& root : roots) {
    if (fs::exists(root / "model.onnx")) {
      tests.push_back(root);
      continue;
    }
    for (const auto& entry : fs::directory_iterator(root)) {
      if (fs::exists(entry.path() / "model.onnx")) tests.push_back(entry.path());
    }
  }
  std::sort(tests.begin(), tests.end());
  int passed = 0, failed = 0, skipped = 0;
  for (const auto& test : tests) {
    const std::string name = test.filename().string();
    Result result;
    max_abs_error = 0;
    if (auto skip = skips.find(name); skip != skips.end()) {
      result = {Outcome::kSkip, skip->second};
    } else {
      try {
        result = run_test(backend, test, "{\"threads\": " + std::to_string(threads) + "}");
      } catch (const std::exception& e) {
        result = {Outcome::kFail, e.what()};
      }
    }
    switch (result.outcome) {
      case Outcome::kPass:
        ++passed;
        std::printf("PASS %s (max abs error %.3g)\n", name.c_str(), max_abs_error);
        break;
      case Outcome::kFail:
        ++failed;
        std::printf("FAIL %s: %s\n", name.c_str(), result.why.c_str());
        break;
      case Outcome::kSkip:
        ++skipped;
        std::printf("SKIP %s: %s\n", name.c_str(), result.why.c_str());
        break;
    }
  }
  std::printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  if (passed < min_passed) {
    std::printf("FAIL: only %d tests passed, at least %d expected\n", passed, min_passed);
    return 1;
  }
  return failed == 0 ? 0 : 1;
}
