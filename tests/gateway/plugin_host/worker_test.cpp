// Backends out of process: the test plugin in a real modelgate-worker process (fork +
// exec, sockets, shared memory), against the same plugin run inline.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <thread>

#include "gateway/plugin_host/backend_manager.h"
#include "gateway/plugin_host/model_runner.h"
#include "gateway/plugin_host/worker_process.h"
#include "tests/gateway/plugin_host/test_support.h"

namespace mg::gateway {
namespace {

using namespace std::chrono_literals;
using testing::bytes_of;
using testing::floats_of;
using testing::test_plugin;
using testing::TestBatch;

WorkerProcess::Options options(std::chrono::milliseconds batch_timeout = 10'000ms) {
  WorkerProcess::Options o;
  o.binary = MG_WORKER_BINARY;
  o.backend = "test_good";
  o.batch_timeout = batch_timeout;
  return o;
}

worker::LoadRequest load_request(const std::string& config = "{}", uint32_t instances = 1) {
  worker::LoadRequest r;
  r.plugin_path = test_plugin("test_good").string();
  r.backend_config = "{}";
  r.model_name = "m/1";
  r.model_config = config;
  r.instances = instances;
  return r;
}

std::unique_ptr<WorkerProcess> start(const std::string& config = "{}", uint32_t instances = 1,
                                     std::chrono::milliseconds timeout = 10'000ms) {
  return WorkerProcess::start(options(timeout), load_request(config, instances),
                              bytes_of("TESTMODEL weights"));
}

// One request of one row whose first value is `first`.
struct OneRow {
  std::vector<float> values;
  BatchInput input;
  explicit OneRow(float first) : values{first, 2, 3, 4} {
    input.inputs.push_back(TensorRef{"x", DType::kFp32, {1, 4}, values.data(), 16});
    input.request_rows = {1};
  }
};

TEST(WorkerProcess, ABatchComesBackAsInline) {
  auto process = start();
  ASSERT_EQ(process->metadata().inputs.size(), 1u);
  EXPECT_EQ(process->metadata().max_batch_size, 8);
  auto backend = Backend::open(test_plugin("test_good"), "{}");
  auto inline_model = testing::load_test_model(backend);
  auto instance = inline_model->create_instance(0);
  TestBatch batch({3, 1, 2}, {1});  // request 1 fails alone
  const BatchOutput in_worker = process->execute(0, batch.input);
  const BatchOutput in_server = instance->execute(batch.input);
  ASSERT_EQ(in_worker.outputs.size(), in_server.outputs.size());
  for (std::size_t i = 0; i < in_worker.outputs.size(); ++i) {
    EXPECT_EQ(in_worker.outputs[i].name, in_server.outputs[i].name);
    EXPECT_EQ(in_worker.outputs[i].shape, in_server.outputs[i].shape);
    EXPECT_EQ(floats_of(in_worker.outputs[i]), floats_of(in_server.outputs[i]));
  }
  ASSERT_EQ(in_worker.request_failures.size(), 3u);
  EXPECT_FALSE(in_worker.request_failures[0]);
  ASSERT_TRUE(in_worker.request_failures[1]);
  EXPECT_EQ(in_worker.request_failures[1]->code, MG_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(in_worker.request_failures[1]->message, in_server.request_failures[1]->message);
}

TEST(WorkerProcess, LanesRunConcurrently) {
  // "barrier": each execute waits until two run at once, so the two lanes must overlap.
  auto process = start(R"({"mode": "barrier"})", 2);
  std::vector<BatchOutput> results(2);
  std::vector<std::thread> lanes;
  for (int lane = 0; lane < 2; ++lane) {
    lanes.emplace_back([&, lane] {
      OneRow row(static_cast<float>(lane + 1));
      results[lane] = process->execute(lane, row.input);
    });
  }
  for (auto& t : lanes) t.join();
  for (const auto& result : results) {
    ASSERT_FALSE(result.batch_failure) << result.batch_failure->message;
    ASSERT_EQ(result.outputs.size(), 2u);
  }
}

TEST(WorkerProcess, TheCpuBackendAnswersAsInlineAsItsRegionsGrow) {
  // The seed MLP: batches of 1, 64 (200 KB of inputs: past the first region) and 1 again.
  const auto plugin = std::filesystem::path(MG_PLUGIN_DIR) / "libmg_cpu.so";
  std::ifstream file(std::filesystem::path(MG_EXAMPLES_DIR) / "models/fashion-mlp.onnx",
                     std::ios::binary);
  const std::string model((std::istreambuf_iterator<char>(file)), {});
  ASSERT_FALSE(model.empty());
  const std::string config = R"({"max_batch_size": 64})";
  worker::LoadRequest request = load_request(config);
  request.plugin_path = plugin.string();
  auto process = WorkerProcess::start(options(), request, bytes_of(model));
  auto backend = Backend::open(plugin, "{}");
  auto inline_instance = Model::load(backend, "m", bytes_of(model), "", config)->create_instance(0);
  const std::string input = process->metadata().inputs.at(0).name;
  for (const int64_t rows : {1, 64, 1}) {
    std::vector<float> pixels(static_cast<std::size_t>(rows) * 784);
    for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<float>(i % 255) / 255;
    BatchInput batch;
    batch.inputs.push_back(TensorRef{
        input, DType::kFp32, {rows, 28, 28}, pixels.data(), pixels.size() * sizeof(float)});
    batch.request_rows = {static_cast<uint64_t>(rows)};
    const BatchOutput in_worker = process->execute(0, batch);
    const BatchOutput in_server = inline_instance->execute(batch);
    ASSERT_FALSE(in_worker.batch_failure) << in_worker.batch_failure->message;
    ASSERT_EQ(in_worker.outputs.size(), in_server.outputs.size());
    for (std::size_t i = 0; i < in_worker.outputs.size(); ++i) {
      EXPECT_EQ(in_worker.outputs[i].shape, in_server.outputs[i].shape);
      EXPECT_EQ(floats_of(in_worker.outputs[i]), floats_of(in_server.outputs[i])) << rows;
    }
  }
}

TEST(WorkerProcess, ADeadWorkerFailsItsBatchWithTheSignal) {
  auto process = start();
  OneRow segfault(1001);
  try {
    process->execute(0, segfault.input);
    FAIL() << "the batch of a crashing worker succeeded";
  } catch (const WorkerFailed& e) {
    EXPECT_EQ(e.cause(), "sigsegv");
    EXPECT_EQ(e.code(), kWorkerFailedCode);
    EXPECT_NE(std::string(e.what()).find("backend 'test_good'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("signal 11"), std::string::npos) << e.what();
  }
  OneRow normal(1);
  EXPECT_THROW(process->execute(0, normal.input), WorkerFailed);  // and stays dead
}

TEST(WorkerProcess, AHungBatchIsKilledAtItsDeadline) {
  auto process = start("{}", 1, 300ms);
  OneRow spin(1005);
  const auto started = std::chrono::steady_clock::now();
  try {
    process->execute(0, spin.input);
    FAIL() << "a spinning plugin answered";
  } catch (const WorkerFailed& e) {
    EXPECT_EQ(e.cause(), "deadline");
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, 30s);  // not a timing check: a bound
  EXPECT_NE(::kill(process->pid(), 0), 0);                     // killed and reaped
}

TEST(WorkerProcess, TheSandboxRefusesNetworkSocketsAndExecUnlessGranted) {
  auto confined = start();
  OneRow socket_call(1006), exec_call(1007);
  BatchOutput refused = confined->execute(0, socket_call.input);
  ASSERT_TRUE(refused.batch_failure);
  EXPECT_NE(refused.batch_failure->message.find("Operation not permitted"), std::string::npos)
      << refused.batch_failure->message;
  refused = confined->execute(0, exec_call.input);
  ASSERT_TRUE(refused.batch_failure);
  EXPECT_NE(refused.batch_failure->message.find("exec: refused"), std::string::npos);

  worker::LoadRequest granted = load_request();
  granted.sandbox.allow_network = true;
  granted.sandbox.allow_exec = true;
  auto trusted = WorkerProcess::start(options(), granted, bytes_of("TESTMODEL weights"));
  EXPECT_FALSE(trusted->execute(0, socket_call.input).batch_failure);
  EXPECT_FALSE(trusted->execute(0, exec_call.input).batch_failure);
}

TEST(WorkerProcess, ALoadFailureIsThePluginsError) {
  try {
    start(R"({"fail_load": "weights are corrupted"})");
    FAIL() << "loaded";
  } catch (const WorkerFailed&) {
    FAIL() << "a load error is not a worker death";
  } catch (const BackendError& e) {
    EXPECT_EQ(e.code(), MG_ERROR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(e.what()).find("weights are corrupted"), std::string::npos);
  }
}

TEST(WorkerProcess, AMissingWorkerBinaryIsReported) {
  WorkerProcess::Options o = options();
  o.binary = "/nonexistent/modelgate-worker";
  EXPECT_THROW(WorkerProcess::start(o, load_request(), bytes_of("TESTMODEL weights")),
               BackendError);
}

struct Events {
  std::mutex mutex;
  std::vector<WorkerEvent> seen;
  void operator()(const WorkerEvent& e) {
    std::lock_guard lock(mutex);
    seen.push_back(e);
  }
  std::size_t count(WorkerEvent::Kind kind) {
    std::lock_guard lock(mutex);
    return static_cast<std::size_t>(
        std::count_if(seen.begin(), seen.end(), [&](const auto& e) { return e.kind == kind; }));
  }
};

std::unique_ptr<ProcessRunner> runner(Events& events, RestartPolicy policy) {
  auto artifact = [] {
    const auto bytes = bytes_of("TESTMODEL weights");
    return std::vector<std::byte>(bytes.begin(), bytes.end());
  };
  return std::make_unique<ProcessRunner>(options(), load_request(), artifact, policy,
                                         [&events](const WorkerEvent& e) { events(e); });
}

bool eventually(const std::function<bool()>& condition) {
  for (int i = 0; i < 600; ++i) {  // up to 60 s: a bound, not a measurement
    if (condition()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

TEST(ProcessRunner, ADeadWorkerIsNotReadyUntilARestartedOneHasLoaded) {
  Events events;
  RestartPolicy policy;
  policy.first_delay = 1500ms;  // long enough to see the gap
  auto r = runner(events, policy);
  const pid_t first = r->worker_pid();
  OneRow abort_call(1002), normal(1);
  EXPECT_THROW(r->execute(abort_call.input), WorkerFailed);
  EXPECT_FALSE(r->ready());
  try {  // no worker: refused at once, as "restarting"
    r->execute(normal.input);
    FAIL() << "a batch ran without a worker";
  } catch (const BackendError& e) {
    EXPECT_EQ(e.code(), kWorkerRestartingCode) << e.what();
  }
  ASSERT_TRUE(eventually([&] { return r->ready(); }));
  EXPECT_NE(r->worker_pid(), first);
  EXPECT_FALSE(r->execute(normal.input).batch_failure);
  EXPECT_EQ(r->restarts(), 1u);
  EXPECT_EQ(events.count(WorkerEvent::Kind::kDied), 1u);
  EXPECT_EQ(events.count(WorkerEvent::Kind::kRestarted), 1u);
  EXPECT_EQ(events.seen.front().cause, "sigabrt");
}

TEST(ProcessRunner, RestartsStopAfterTooManyFailuresInTheWindow) {
  Events events;
  RestartPolicy policy;
  policy.max_failures = 3;
  policy.first_delay = 10ms;
  auto r = runner(events, policy);
  OneRow exit_call(1003);
  for (int failure = 1; failure <= 3; ++failure) {
    ASSERT_TRUE(eventually([&] { return r->ready(); })) << "failure " << failure;
    EXPECT_THROW(r->execute(exit_call.input), WorkerFailed);
  }
  ASSERT_TRUE(eventually([&] { return events.count(WorkerEvent::Kind::kGaveUp) == 1; }));
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(r->ready());
  EXPECT_EQ(r->restarts(), 2u);
}

TEST(ProcessRunner, ItsWorkerGoesWithIt) {
  Events events;
  pid_t pid = 0;
  {
    auto r = runner(events, RestartPolicy{});
    pid = r->worker_pid();
    ASSERT_GT(pid, 0);
  }
  EXPECT_NE(::kill(pid, 0), 0);
}

// With a worker binary, discovery opens a process-isolated plugin only in a worker: its
// version and ABI are known, its refusals recorded, and the server holds no copy of it
// until a model asks for it inline.
TEST(BackendDiscovery, AProcessIsolatedPluginIsOpenedOnlyInAWorker) {
  BackendManager manager;
  manager.set_worker_binary(MG_WORKER_BINARY);
  const BackendStatus good = manager.load(test_plugin("test_good"));
  EXPECT_EQ(good.state, BackendStatus::State::kReady) << good.reason;
  EXPECT_EQ(good.version, "0.0.1-test");
  EXPECT_EQ(good.abi_major, 1u);
  EXPECT_EQ(manager.find("test_good"), nullptr);  // not opened in this process
  EXPECT_EQ(manager.plugin_path("test_good"), test_plugin("test_good"));
  const BackendStatus refused = manager.load(test_plugin("test_init_fails"));
  EXPECT_EQ(refused.state, BackendStatus::State::kFailed);
  EXPECT_NE(refused.reason.find("device not present"), std::string::npos) << refused.reason;
  EXPECT_EQ(refused.version, "0.0.1-test");  // what it declared before refusing
  EXPECT_FALSE(manager.plugin_path("test_init_fails"));
  const BackendStatus crashed = manager.load(MG_CRASHING_PLUGIN);
  EXPECT_EQ(crashed.state, BackendStatus::State::kFailed);
  EXPECT_NE(crashed.reason.find("signal 11"), std::string::npos) << crashed.reason;
  // A model that asks for inline gets the plugin opened here, once.
  auto inline_backend = manager.open_inline("test_good");
  ASSERT_NE(inline_backend, nullptr);
  EXPECT_EQ(manager.find("test_good"), inline_backend);
  EXPECT_EQ(manager.open_inline("test_init_fails"), nullptr);
}

TEST(WorkerProtocol, HostileMessagesAreRefusedNotBelieved) {
  // A count far beyond the message, a truncated string, an unknown dtype.
  worker::Writer huge(worker::Kind::kExecuted);
  huge.u32(0).u32(0).u32(0xFFFFFFFF);
  EXPECT_THROW(worker::decode_executed(huge.bytes()), worker::ProtocolError);
  worker::Writer truncated(worker::Kind::kExecuted);
  truncated.u32(0).u32(1).u32(7).u32(100);
  EXPECT_THROW(worker::decode_executed(truncated.bytes()), worker::ProtocolError);
  worker::Writer wrong_kind(worker::Kind::kLoad);
  EXPECT_THROW(worker::decode_executed(wrong_kind.bytes()), worker::ProtocolError);
  EXPECT_THROW(worker::check_inside({4096, 1}, 4096), worker::ProtocolError);
  EXPECT_THROW(worker::check_inside({1, ~uint64_t{0}}, 4096), worker::ProtocolError);
  EXPECT_NO_THROW(worker::check_inside({4095, 1}, 4096));
}

}  // namespace
}  // namespace mg::gateway
