// A backend for the plugin host's tests. One source, built several times with different
// compile definitions (see tests/CMakeLists.txt) to produce well- and badly-behaved plugins:
//   TEST_BACKEND_NAME   the backend name (must match libmg_<name>.so)
//   TEST_ABI_MAJOR/MINOR the ABI version it claims
//   TEST_FAIL_INIT      backend_init returns an error
//   TEST_CRASH_INIT     backend_init segfaults (kept out of the test plugin directory: a
//                       server opening it in its own process dies)
//   TEST_NO_ENTRY       the entry symbol is not exported
//
// The model it loads: an artifact starting with "TESTMODEL"; input "x" FP32 [-1, 4];
// outputs "y" = 2x (FP32 [-1, 4]) and "sum" = row sums (FP32 [-1, 1]); max batch 8.
// A request whose first value is negative fails alone. The model config JSON selects a
// behaviour with "mode" (see Mode below); "fail_load" makes model_load fail with its text.
// A batch with a request whose first value is one of the magic numbers below misbehaves
// as the plugins a worker process must survive do (see misbehave()).
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <new>
#include <string>
#include <thread>

#include "modelgate/plugin.h"

#ifndef TEST_BACKEND_NAME
#define TEST_BACKEND_NAME "test"
#endif
#ifndef TEST_ABI_MAJOR
#define TEST_ABI_MAJOR MG_PLUGIN_ABI_MAJOR
#endif
#ifndef TEST_ABI_MINOR
#define TEST_ABI_MINOR MG_PLUGIN_ABI_MINOR
#endif

namespace {

const MG_HostApi* g_host = nullptr;

enum class Mode {
  kNormal,
  kFailExecute,     // "fail_execute": the whole batch fails
  kBadOutputDtype,  // "bad_output_dtype": allocates y as INT32
  kSkipOutput,      // "skip_output": never produces "sum"
  kDoubleAlloc,     // "double_alloc": allocates y twice
  kHugeOutput,      // "huge_output": asks for a 1 TiB output
  kBarrier,         // "barrier": waits until 2 executes of the model run at once
  kOverlapCheck,    // "overlap_check": fails if two executes overlap on one instance
  kBadMetadata,     // "bad_metadata": declares a batch dimension that is not -1
  kThrow,           // "throw": a C++ exception inside execute (must not cross the ABI)
  kCrash,           // "crash": aborts the process inside execute (a backend bug)
  kLeaveUnwritten,  // "leave_unwritten": allocates its outputs and writes nothing into them
  kGate,            // "gate": waits until the file "gate_file" exists, then computes
};

// Reads "key": "value" from a flat JSON object; "" when absent. Enough for test configs.
std::string config_string(const std::string& json, const std::string& key) {
  std::size_t at = json.find("\"" + key + "\"");
  if (at == std::string::npos) return "";
  at = json.find('"', json.find(':', at) + 1);
  std::size_t end = json.find('"', at + 1);
  if (at == std::string::npos || end == std::string::npos) return "";
  return json.substr(at + 1, end - at - 1);
}

Mode parse_mode(const std::string& name) {
  if (name == "fail_execute") return Mode::kFailExecute;
  if (name == "bad_output_dtype") return Mode::kBadOutputDtype;
  if (name == "skip_output") return Mode::kSkipOutput;
  if (name == "double_alloc") return Mode::kDoubleAlloc;
  if (name == "huge_output") return Mode::kHugeOutput;
  if (name == "barrier") return Mode::kBarrier;
  if (name == "overlap_check") return Mode::kOverlapCheck;
  if (name == "bad_metadata") return Mode::kBadMetadata;
  if (name == "throw") return Mode::kThrow;
  if (name == "crash") return Mode::kCrash;
  if (name == "leave_unwritten") return Mode::kLeaveUnwritten;
  if (name == "gate") return Mode::kGate;
  return Mode::kNormal;
}

const int64_t kBatchedShape4[] = {-1, 4};
const int64_t kBatchedShape1[] = {-1, 1};
const int64_t kFixedShape4[] = {8, 4};

struct TestModel {
  Mode mode = Mode::kNormal;
  std::string gate_file;  // kGate: executes wait until this file exists
  MG_Tensor inputs[1];
  MG_Tensor outputs[2];
  MG_ModelMetadata metadata;
  std::atomic<int> running{0};  // executes in flight across instances
  std::atomic<int> arrived{0};  // executes ever started (the barrier counts these)
};

struct TestInstance {
  TestModel* model;
  std::atomic<int> running{0};  // executes in flight on this instance
};

MG_Error* error(int32_t code, const std::string& message) {
  return g_host->error_new(code, message.c_str());
}

MG_Error* backend_init(const MG_HostApi* host, const char* /*config_json*/,
                       MG_Backend** out_backend) {
  g_host = host;
  *out_backend = nullptr;
#if defined(TEST_FAIL_INIT)
  return error(MG_ERROR_UNAVAILABLE, "device not present");
#elif defined(TEST_CRASH_INIT)
  std::signal(SIGSEGV, SIG_DFL);  // a plain crash, also where a sanitizer handles SIGSEGV
  std::raise(SIGSEGV);
  return nullptr;
#else
  return nullptr;
#endif
}

void backend_fini(MG_Backend* /*backend*/) { g_host = nullptr; }

MG_Error* model_load(MG_Backend* /*backend*/, const void* artifact, uint64_t artifact_size,
                     const char* /*artifact_path*/, const char* config_json, MG_Model** out_model) {
  std::string config(config_json);
  if (std::string why = config_string(config, "fail_load"); !why.empty()) {
    return error(MG_ERROR_INVALID_ARGUMENT, why);
  }
  if (artifact_size < 9 || std::memcmp(artifact, "TESTMODEL", 9) != 0) {
    return error(MG_ERROR_INVALID_ARGUMENT, "artifact is not a test model");
  }
  auto* model = new (std::nothrow) TestModel;
  if (model == nullptr) return error(MG_ERROR_OUT_OF_MEMORY, "out of memory");
  model->mode = parse_mode(config_string(config, "mode"));
  model->gate_file = config_string(config, "gate_file");
  const int64_t* x_shape = model->mode == Mode::kBadMetadata ? kFixedShape4 : kBatchedShape4;
  model->inputs[0] = MG_Tensor{"x", MG_DTYPE_FP32, 2, x_shape, nullptr, 0};
  model->outputs[0] = MG_Tensor{"y", MG_DTYPE_FP32, 2, kBatchedShape4, nullptr, 0};
  model->outputs[1] = MG_Tensor{"sum", MG_DTYPE_FP32, 2, kBatchedShape1, nullptr, 0};
  model->metadata =
      MG_ModelMetadata{sizeof(MG_ModelMetadata), 1, model->inputs, 2, model->outputs, 8, 0};
  *out_model = reinterpret_cast<MG_Model*>(model);
  return nullptr;
}

void model_unload(MG_Model* model) { delete reinterpret_cast<TestModel*>(model); }

MG_Error* model_metadata(MG_Model* model, const MG_ModelMetadata** out) {
  *out = &reinterpret_cast<TestModel*>(model)->metadata;
  return nullptr;
}

MG_Error* instance_create(MG_Model* model, uint32_t /*index*/, MG_Instance** out_instance) {
  auto* instance = new (std::nothrow) TestInstance{reinterpret_cast<TestModel*>(model)};
  if (instance == nullptr) return error(MG_ERROR_OUT_OF_MEMORY, "out of memory");
  *out_instance = reinterpret_cast<MG_Instance*>(instance);
  return nullptr;
}

void instance_destroy(MG_Instance* instance) { delete reinterpret_cast<TestInstance*>(instance); }

// Waits until `count` executes of the model have started, for at most 10 s. Every
// caller waits here, so none can finish before all have arrived: they overlap.
bool wait_for_concurrency(std::atomic<int>& arrived, int count) {
  ++arrived;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (arrived.load() < count) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

MG_Error* compute(TestModel& model, const MG_Batch* batch, MG_ExecuteContext* ctx) {
  const MG_Tensor& x = batch->inputs[0];
  const int64_t rows = x.shape[0];
  const auto* in = static_cast<const float*>(x.data);

  if (model.mode == Mode::kHugeOutput) {
    void* data = nullptr;
    const int64_t shape[] = {rows, 4};
    return g_host->output_alloc(ctx, "y", MG_DTYPE_FP32, 2, shape, uint64_t{1} << 40, &data);
  }
  if (model.mode == Mode::kThrow) throw std::runtime_error("kernel exploded");
  if (model.mode == Mode::kLeaveUnwritten) {
    void* data = nullptr;
    const int64_t y_shape[] = {rows, 4}, sum_shape[] = {rows, 1};
    if (MG_Error* e = g_host->output_alloc(ctx, "y", MG_DTYPE_FP32, 2, y_shape, rows * 16, &data)) {
      return e;
    }
    return g_host->output_alloc(ctx, "sum", MG_DTYPE_FP32, 2, sum_shape, rows * 4, &data);
  }

  // Produce only what was asked for (everything when nothing was named).
  bool want_y = batch->output_count == 0, want_sum = batch->output_count == 0;
  for (uint32_t i = 0; i < batch->output_count; ++i) {
    want_y = want_y || std::strcmp(batch->output_names[i], "y") == 0;
    want_sum = want_sum || std::strcmp(batch->output_names[i], "sum") == 0;
  }
  if (want_y) {
    const int64_t shape[] = {rows, 4};
    int32_t dtype = model.mode == Mode::kBadOutputDtype ? MG_DTYPE_INT32 : MG_DTYPE_FP32;
    void* data = nullptr;
    if (MG_Error* e = g_host->output_alloc(ctx, "y", dtype, 2, shape, rows * 16, &data)) return e;
    auto* y = static_cast<float*>(data);
    for (int64_t i = 0; i < rows * 4; ++i) y[i] = 2 * in[i];
    if (model.mode == Mode::kDoubleAlloc) {
      if (MG_Error* e = g_host->output_alloc(ctx, "y", dtype, 2, shape, rows * 16, &data)) {
        return e;
      }
    }
  }
  if (want_sum && model.mode != Mode::kSkipOutput) {
    const int64_t shape[] = {rows, 1};
    void* data = nullptr;
    if (MG_Error* e = g_host->output_alloc(ctx, "sum", MG_DTYPE_FP32, 2, shape, rows * 4, &data)) {
      return e;
    }
    auto* sum = static_cast<float*>(data);
    for (int64_t r = 0; r < rows; ++r)
      sum[r] = in[r * 4] + in[r * 4 + 1] + in[r * 4 + 2] + in[r * 4 + 3];
  }
  // Requests whose first value is negative fail alone.
  uint64_t row = 0;
  for (uint32_t r = 0; r < batch->request_count; ++r) {
    if (in[row * 4] < 0) {
      g_host->request_error(ctx, r,
                            error(MG_ERROR_INVALID_ARGUMENT,
                                  "request " + std::to_string(r) + " has a negative first value"));
    }
    row += batch->request_rows[r];
  }
  return nullptr;
}

// The magic first values: 1001 segfault, 1002 abort, 1003 exit(3), 1004 leak memory
// until allocation fails (then write through the null pointer, as careless C code does),
// 1005 spin forever, 1006 open an IPv4 socket, 1007 run /bin/true. Returns an error for
// 1006/1007 when the system refused, nullptr when the batch is an ordinary one (or the
// socket / exec worked: the batch is then computed as usual).
MG_Error* misbehave(float first) {
  const int magic = static_cast<int>(first);
  if (first != static_cast<float>(magic) || magic < 1001 || magic > 1007) return nullptr;
  switch (magic) {
    case 1001:
      // A segfault, delivered as the kernel would: a real invalid access would be caught
      // by the sanitizers' own handlers in the ASan and UBSan builds (exit status 1).
      std::signal(SIGSEGV, SIG_DFL);
      std::raise(SIGSEGV);
      break;
    case 1002:
      std::abort();
    case 1003:
      std::exit(3);
    case 1004:
      for (;;) {
        // Volatile: the compiler may not drop an allocation nobody reads.
        auto* block = static_cast<volatile char*>(std::malloc(64 << 20));
        for (std::size_t i = 0; i < (64 << 20); i += 4096) block[i] = 1;
      }
    case 1005:
      for (std::atomic<uint64_t> spin{0};; spin.fetch_add(1, std::memory_order_relaxed)) {
      }
    case 1006: {
      const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      if (fd < 0)
        return error(MG_ERROR_UNAVAILABLE, std::string("socket: ") + std::strerror(errno));
      ::close(fd);
      return nullptr;
    }
    case 1007: {
      const pid_t child = ::fork();
      if (child == 0) {
        ::execl("/bin/true", "true", static_cast<char*>(nullptr));
        ::_exit(127);
      }
      int status = 0;
      ::waitpid(child, &status, 0);
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return nullptr;
      return error(MG_ERROR_UNAVAILABLE, "exec: refused");
    }
  }
  return nullptr;
}

MG_Error* instance_execute(MG_Instance* handle, const MG_Batch* batch, MG_ExecuteContext* ctx) {
  // No exception may cross the C ABI: everything below is inside this try.
  try {
    // The host's promise (plugin.h): every input aligned to at least 16 bytes.
    for (uint32_t i = 0; i < batch->input_count; ++i) {
      if (reinterpret_cast<std::uintptr_t>(batch->inputs[i].data) % 16 != 0) {
        return error(MG_ERROR_INTERNAL, "the host passed a misaligned input");
      }
    }
    // Any request of the batch may carry the magic value (batches merge requests).
    const MG_Tensor& x = batch->inputs[0];
    uint64_t row = 0;
    for (uint32_t r = 0; r < batch->request_count; ++r) {
      if ((row * 4 + 1) * sizeof(float) > x.byte_size) break;
      if (MG_Error* e = misbehave(static_cast<const float*>(x.data)[row * 4])) return e;
      row += batch->request_rows[r];
    }
    auto& instance = *reinterpret_cast<TestInstance*>(handle);
    TestModel& model = *instance.model;
    struct InFlight {
      std::atomic<int>& a;
      std::atomic<int>& b;
      InFlight(std::atomic<int>& x, std::atomic<int>& y) : a(x), b(y) { ++a, ++b; }
      ~InFlight() { --a, --b; }
    } in_flight(model.running, instance.running);

    switch (model.mode) {
      case Mode::kFailExecute:
        return error(MG_ERROR_INTERNAL, "execute failed on purpose");
      case Mode::kCrash:
        std::abort();
      case Mode::kBarrier:
        if (!wait_for_concurrency(model.arrived, 2)) {
          return error(MG_ERROR_UNAVAILABLE, "no concurrent execute within 10 s");
        }
        break;
      case Mode::kGate:
        // Held until the test opens the gate (creates the file): the end-to-end tests
        // decide when batches finish instead of guessing how long they take.
        for (int i = 0; !std::filesystem::exists(model.gate_file); ++i) {
          if (i == 12000) return error(MG_ERROR_UNAVAILABLE, "the gate stayed shut for 120 s");
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        break;
      case Mode::kOverlapCheck:
        // Linger so an unserialised second call would be seen here.
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        if (instance.running.load() > 1) {
          return error(MG_ERROR_INTERNAL, "two executes overlapped on one instance");
        }
        break;
      default:
        break;
    }
    return compute(model, batch, ctx);
  } catch (const std::exception& e) {
    return error(MG_ERROR_INTERNAL, std::string("test backend: ") + e.what());
  } catch (...) {
    return error(MG_ERROR_INTERNAL, "test backend: unknown exception");
  }
}

const MG_BackendApi kApi = {
    .abi_major = TEST_ABI_MAJOR,
    .abi_minor = TEST_ABI_MINOR,
    .struct_size = sizeof(MG_BackendApi),
    .name = TEST_BACKEND_NAME,
    .version = "0.0.1-test",
    .backend_init = backend_init,
    .backend_fini = backend_fini,
    .model_load = model_load,
    .model_unload = model_unload,
    .model_metadata = model_metadata,
    .instance_create = instance_create,
    .instance_destroy = instance_destroy,
    .instance_execute = instance_execute,
};

}  // namespace

#ifndef TEST_NO_ENTRY
extern "C" MG_PLUGIN_EXPORT const MG_BackendApi* mg_backend_entry(void) { return &kApi; }
#else
// Exports something else, so the library is loadable but is not a backend.
extern "C" MG_PLUGIN_EXPORT const MG_BackendApi* mg_some_other_symbol(void) { return &kApi; }
#endif
