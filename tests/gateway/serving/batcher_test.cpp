// The dynamic batcher on the real CPU backend and the seed MLP: concurrent requests are
// merged into one execute call and each gets exactly its own rows back; a full queue
// refuses. Batch formation is driven by preferred sizes, not by timing.
#include "gateway/serving/batcher.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/log.h"
#include "gateway/plugin_host/backend_manager.h"
#include "gateway/serving/model_repository.h"
#include "registry/registry.h"
#include "tests/test_data_files.h"

namespace mg::gateway {
namespace {

const std::filesystem::path kModels = std::filesystem::path(MG_EXAMPLES_DIR) / "models";

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

class BatcherTest : public ::testing::Test {
 protected:
  std::shared_ptr<LoadedVersion> load_mlp(const std::string& config) {
    mg::set_log_sink([](mg::LogLevel, std::string_view) {});
    std::string pattern = (std::filesystem::temp_directory_path() / "mg_batch_XXXXXX").string();
    dir_ = mkdtemp(pattern.data());
    registry_ = std::make_unique<registry::Registry>(registry::RegistryOptions{dir_});
    backends_.discover({MG_PLUGIN_DIR});
    models_ = std::make_unique<ModelRepository>(*registry_, backends_);
    registry_->create_model({"mlp", "cpu", "", config}, "t");
    std::string bytes = read_file(kModels / "fashion-mlp.onnx");
    registry_->add_version(
        "mlp", registry_->artifacts().put(std::as_bytes(std::span(bytes.data(), bytes.size()))), "",
        "t");
    return models_->load("mlp", 1, "t");
  }
  ~BatcherTest() override {
    models_.reset();
    registry_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::filesystem::path dir_;
  std::unique_ptr<registry::Registry> registry_;
  BackendManager backends_;
  std::unique_ptr<ModelRepository> models_;
  const std::string images_ = read_file(kModels / "fashion-mlp.input.bin");     // 16 images
  const std::string expected_ = read_file(kModels / "fashion-mlp.output.bin");  // 16 × 10
};

TEST_F(BatcherTest, ConcurrentRequestsShareOneBatchAndGetTheirOwnRows) {
  // The batch runs once it holds 8 rows; the delay is long enough never to decide.
  auto mlp = load_mlp(
      R"({"max_batch_size": 8, "preferred_batch_sizes": [8], "max_queue_delay_us": 10000000, "instances": 1})");
  const std::vector<int64_t> rows = {1, 2, 3, 2};  // requests of different sizes, 8 rows
  std::vector<std::future<RequestResult>> futures(rows.size());
  std::vector<std::thread> clients;
  int64_t first = 0;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    clients.emplace_back([&, r, first] {
      TensorRef image{"image",
                      DType::kFp32,
                      {rows[r], 28, 28},
                      images_.data() + first * 784 * 4,
                      static_cast<uint64_t>(rows[r] * 784 * 4)};
      futures[r] = mlp->submit({image}, {});
    });
    first += rows[r];
  }
  for (auto& c : clients) c.join();
  first = 0;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    RequestResult result = futures[r].get();
    ASSERT_FALSE(result.failure) << result.failure->message;
    ASSERT_EQ(result.outputs.size(), 1u);
    EXPECT_EQ(result.outputs[0].shape, (std::vector<int64_t>{rows[r], 10}));
    const auto* got = reinterpret_cast<const float*>(result.outputs[0].data.get());
    const auto* want = reinterpret_cast<const float*>(expected_.data()) + first * 10;
    for (int64_t i = 0; i < rows[r] * 10; ++i) EXPECT_NEAR(got[i], want[i], 1e-5) << r << ":" << i;
    first += rows[r];
  }
  EXPECT_EQ(mlp->batcher().batches_run(), 1u);
  EXPECT_EQ(mlp->batcher().rows_run(), 8u);
}

TEST_F(BatcherTest, WithoutDelayEachRequestRunsAtOnce) {
  auto mlp = load_mlp(R"({"max_batch_size": 8})");
  TensorRef image{"image", DType::kFp32, {1, 28, 28}, images_.data(), 784 * 4};
  for (int i = 0; i < 3; ++i) ASSERT_FALSE(mlp->submit({image}, {}).get().failure);
  EXPECT_EQ(mlp->batcher().batches_run(), 3u);
}

// runs_fast tells the server whether to run a request on its socket thread: only once a
// batch has run, only for models that wait for no one, only within the time limit.
TEST_F(BatcherTest, RunsFastOnlyForMeasuredQuickModelsThatDoNotWait) {
  auto mlp = load_mlp(R"({"max_batch_size": 8})");
  EXPECT_FALSE(mlp->batcher().runs_fast(std::chrono::seconds(1)));  // nothing measured yet
  TensorRef image{"image", DType::kFp32, {1, 28, 28}, images_.data(), 784 * 4};
  ASSERT_FALSE(mlp->submit({image}, {}).get().failure);
  EXPECT_TRUE(mlp->batcher().runs_fast(std::chrono::seconds(1)));
  EXPECT_FALSE(mlp->batcher().runs_fast(std::chrono::nanoseconds(1)));  // slower than that
}

TEST_F(BatcherTest, ModelsThatWaitForOthersNeverRunFast) {
  auto waiting = load_mlp(R"({"max_batch_size": 8, "max_queue_delay_us": 100})");
  TensorRef image{"image", DType::kFp32, {1, 28, 28}, images_.data(), 784 * 4};
  ASSERT_FALSE(waiting->submit({image}, {}).get().failure);
  EXPECT_FALSE(waiting->batcher().runs_fast(std::chrono::seconds(1)));
}

TEST_F(BatcherTest, FullQueueRefuses) {
  // The first request forms a batch that waits (2 s) for more rows; the later ones ask for
  // a different output selection, so they cannot join it and stay queued.
  auto mlp = load_mlp(
      R"({"max_batch_size": 8, "preferred_batch_sizes": [8], "max_queue_delay_us": 2000000, "max_queue": 2, "instances": 1})");
  TensorRef image{"image", DType::kFp32, {1, 28, 28}, images_.data(), 784 * 4};
  std::vector<std::future<RequestResult>> accepted;
  accepted.push_back(mlp->submit({image}, {}));
  bool refused = false;
  for (int i = 0; i < 4 && !refused; ++i) {
    try {
      accepted.push_back(mlp->submit({image}, {"probabilities"}));
    } catch (const QueueFull&) {
      refused = true;
    }
  }
  EXPECT_TRUE(refused);
  // 2 queued, plus the first if the worker had already taken it into its batch.
  EXPECT_GE(accepted.size(), 2u);
  EXPECT_LE(accepted.size(), 3u);
  for (auto& f : accepted) EXPECT_FALSE(f.get().failure);  // the accepted still complete
}

}  // namespace
}  // namespace mg::gateway

namespace mg::gateway {
namespace {

// Running out of memory while a batch's outputs are split back to its requests fails
// those requests (500 for the caller), never the process: before, the bad_alloc escaped
// the worker thread and std::terminate took the server down. The execute function is
// injected so that the split asks for an impossible allocation.
TEST(BatcherOutOfMemory, AFailedSplitFailsTheRequestsNotTheProcess) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "ASan reports an impossible allocation instead of throwing bad_alloc";
#endif
  ModelMetadata metadata;
  metadata.max_batch_size = 8;
  metadata.inputs.push_back(TensorDesc{"x", DType::kFp32, {-1, 4}});
  metadata.outputs.push_back(TensorDesc{"y", DType::kFp32, {-1, 4}});
  auto execute = [](const BatchInput& batch) {
    BatchOutput output;
    OutputTensor y{"y", DType::kFp32, {2, 4}, std::make_unique<std::byte[]>(32), 0};
    y.byte_size = uint64_t{1} << 62;  // each request's half cannot be allocated
    output.outputs.push_back(std::move(y));
    output.request_failures.resize(batch.request_rows.size());
    return output;
  };
  BatcherOptions options;
  options.max_queue_delay = std::chrono::seconds(10);
  options.preferred_batch_sizes = {2};
  DynamicBatcher batcher(metadata, execute, options, 1);
  const float row[4] = {1, 2, 3, 4};
  TensorRef x{"x", DType::kFp32, {1, 4}, row, sizeof row};
  auto first = batcher.submit({x}, {});
  auto second = batcher.submit({x}, {});
  for (auto* future : {&first, &second}) {
    RequestResult result = future->get();
    ASSERT_TRUE(result.failure);
    EXPECT_EQ(result.failure->code, MG_ERROR_OUT_OF_MEMORY);
  }
}

// BYTES rows have no fixed size: requests whose strings differ in length and count share
// a batch, and each gets back exactly its own elements (before, any batched request of a
// model with a BYTES output failed "BYTES outputs cannot be batched").
TEST(BatcherBytes, VariableLengthRowsBatchAndSplitBack) {
  using mg::test::serialised;
  ModelMetadata metadata;
  metadata.max_batch_size = 8;
  metadata.inputs.push_back(TensorDesc{"text", DType::kBytes, {-1, 2}});
  metadata.outputs.push_back(TensorDesc{"echo", DType::kBytes, {-1, 2}});
  std::atomic<int> calls{0};
  std::atomic<int64_t> largest_batch{0};
  auto execute = [&](const BatchInput& batch) {  // echoes the input, all rows at once
    ++calls;
    largest_batch = std::max<int64_t>(largest_batch, batch.inputs[0].shape[0]);
    BatchOutput output;
    const TensorRef& in = batch.inputs[0];
    OutputTensor echo{"echo", DType::kBytes, in.shape, std::make_unique<std::byte[]>(in.byte_size),
                      in.byte_size};
    std::memcpy(echo.data.get(), in.data, in.byte_size);
    output.outputs.push_back(std::move(echo));
    output.request_failures.resize(batch.request_rows.size());
    return output;
  };
  BatcherOptions options;
  options.max_queue_delay = std::chrono::seconds(10);
  options.preferred_batch_sizes = {4};
  DynamicBatcher batcher(metadata, execute, options, 1);
  const std::vector<std::vector<std::string>> requests = {
      {"a", ""},                                   // 1 row
      {"a longer string", "b", "", "ankle boot"},  // 2 rows
      {"x", std::string(300, 'y')}};               // 1 row
  std::vector<std::string> bodies;
  for (const auto& r : requests) bodies.push_back(serialised(r));
  std::vector<std::future<RequestResult>> futures;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const int64_t rows = static_cast<int64_t>(requests[i].size() / 2);
    futures.push_back(batcher.submit(
        {TensorRef{"text", DType::kBytes, {rows, 2}, bodies[i].data(), bodies[i].size()}}, {}));
  }
  for (std::size_t i = 0; i < requests.size(); ++i) {
    RequestResult result = futures[i].get();
    ASSERT_FALSE(result.failure) << result.failure->message;
    ASSERT_EQ(result.outputs.size(), 1u);
    const OutputTensor& echo = result.outputs[0];
    EXPECT_EQ(echo.shape, (std::vector<int64_t>{static_cast<int64_t>(requests[i].size() / 2), 2}));
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(echo.data.get()), echo.byte_size),
              bodies[i])
        << "request " << i;
  }
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(largest_batch, 4);
}

}  // namespace
}  // namespace mg::gateway

namespace mg::gateway {
namespace {

// submit_async (requests taken on a socket thread for a model in a worker process): the
// answer comes on a batcher thread, never the caller's; requests queued meanwhile batch
// together and each gets its own rows; one still queued at its deadline is never run; a
// full queue refuses without calling back. The execute function doubles its input, and
// its first call waits for the test to let it go, so what is queued is known.
class AsyncBatcherTest : public ::testing::Test {
 protected:
  AsyncBatcherTest() {
    metadata_.max_batch_size = 8;
    metadata_.inputs.push_back(TensorDesc{"x", DType::kFp32, {-1, 1}});
    metadata_.outputs.push_back(TensorDesc{"y", DType::kFp32, {-1, 1}});
  }

  std::unique_ptr<DynamicBatcher> make(std::size_t max_queue) {
    BatcherOptions options;
    options.max_queue = max_queue;
    auto execute = [this](const BatchInput& batch) {
      if (calls_.fetch_add(1) == 0) {
        started_.set_value();
        release_.get_future().wait();
      }
      const auto& x = batch.inputs.at(0);
      OutputTensor y{"y", DType::kFp32, x.shape, std::make_unique<std::byte[]>(x.byte_size),
                     x.byte_size};
      const auto* in = static_cast<const float*>(x.data);
      auto* out = reinterpret_cast<float*>(y.data.get());
      for (uint64_t i = 0; i < x.byte_size / sizeof(float); ++i) out[i] = 2 * in[i];
      BatchOutput output;
      output.outputs.push_back(std::move(y));
      output.request_failures.resize(batch.request_rows.size());
      return output;
    };
    return std::make_unique<DynamicBatcher>(metadata_, execute, options, 1);
  }

  struct Answer {
    RequestResult result;
    std::thread::id thread;
  };
  // Input x of rows of `values`, kept in data_[slot].
  TensorRef input(int slot, const std::vector<float>& values) {
    data_[slot] = values;
    return TensorRef{"x",
                     DType::kFp32,
                     {static_cast<int64_t>(values.size()), 1},
                     data_[slot].data(),
                     values.size() * sizeof(float)};
  }
  // Puts the answer, and the thread it came on, in answers_[slot].
  DynamicBatcher::Done answer_into(int slot) {
    return [this, slot](RequestResult result) {
      answers_[slot].set_value(Answer{std::move(result), std::this_thread::get_id()});
    };
  }
  // Submits rows of `values`; the answer lands in answers_[slot].
  void submit(DynamicBatcher& batcher, int slot, const std::vector<float>& values,
              std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::now() +
                                                               std::chrono::hours(1)) {
    batcher.submit_async({input(slot, values)}, {}, deadline, answer_into(slot));
  }
  // A request as a socket thread gathers it: rows of `values`, answered in answers_[slot].
  DynamicBatcher::Gathered gathered(int slot, const std::vector<float>& values,
                                    std::vector<std::string> outputs = {}) {
    return {{input(slot, values)},
            std::move(outputs),
            answer_into(slot),
            std::chrono::steady_clock::now()};
  }
  // The answer in `slot` doubles `values` (the execute function's work).
  void expect_doubled(int slot, const std::vector<float>& values, const Answer& answer) {
    ASSERT_FALSE(answer.result.failure) << slot << ": " << answer.result.failure->message;
    ASSERT_EQ(answer.result.outputs.size(), 1u) << slot;
    const auto& y = answer.result.outputs[0];
    ASSERT_EQ(y.byte_size, values.size() * sizeof(float)) << slot;
    const auto* got = reinterpret_cast<const float*>(y.data.get());
    for (std::size_t i = 0; i < values.size(); ++i) EXPECT_EQ(got[i], 2 * values[i]) << slot;
  }

  ModelMetadata metadata_;
  std::atomic<int> calls_{0};
  std::promise<void> started_, release_;
  std::vector<float> data_[6];
  std::promise<Answer> answers_[6];
};

TEST_F(AsyncBatcherTest, AnswersComeOnABatcherThreadEachWithItsOwnRows) {
  auto batcher = make(16);
  submit(*batcher, 0, {1});
  started_.get_future().wait();  // the first batch runs (and waits): the next ones queue
  submit(*batcher, 1, {2, 3});
  submit(*batcher, 2, {4});
  release_.set_value();
  const std::vector<std::vector<float>> want = {{2}, {4, 6}, {8}};
  for (int slot = 0; slot < 3; ++slot) {
    Answer answer = answers_[slot].get_future().get();
    EXPECT_NE(answer.thread, std::this_thread::get_id()) << slot;
    ASSERT_FALSE(answer.result.failure) << answer.result.failure->message;
    ASSERT_EQ(answer.result.outputs.size(), 1u);
    const auto& y = answer.result.outputs[0];
    ASSERT_EQ(y.byte_size, want[slot].size() * sizeof(float));
    const auto* got = reinterpret_cast<const float*>(y.data.get());
    for (std::size_t i = 0; i < want[slot].size(); ++i) EXPECT_EQ(got[i], want[slot][i]);
  }
  EXPECT_EQ(batcher->batches_run(), 2u);  // the two queued requests shared one
}

TEST_F(AsyncBatcherTest, ARequestQueuedPastItsDeadlineIsNeverRun) {
  auto batcher = make(16);
  submit(*batcher, 0, {1});
  started_.get_future().wait();
  submit(*batcher, 1, {2}, std::chrono::steady_clock::now() - std::chrono::seconds(1));
  submit(*batcher, 2, {3});
  release_.set_value();
  EXPECT_FALSE(answers_[0].get_future().get().result.failure);
  const Answer late = answers_[1].get_future().get();
  ASSERT_TRUE(late.result.failure);
  EXPECT_EQ(late.result.failure->code, kQueueDeadlineCode);
  EXPECT_FALSE(answers_[2].get_future().get().result.failure);
  EXPECT_EQ(batcher->rows_run(), 2u);  // the late one never ran
}

// Requests a socket thread gathered run there, as few batches as fit: compatible ones
// (the same outputs) share a batch of at most max_batch_size rows (8), oldest first; each
// is answered with its own rows before run_gathered returns.
TEST_F(AsyncBatcherTest, GatheredRequestsShareBatchesOnTheCallingThread) {
  auto batcher = make(16);
  release_.set_value();  // nothing waits
  const std::vector<std::vector<float>> values = {{1}, {2, 3}, {4}, {5, 6, 7, 8, 9, 10}, {11}};
  std::vector<DynamicBatcher::Gathered> requests;
  requests.push_back(gathered(0, values[0]));
  requests.push_back(gathered(1, values[1]));
  requests.push_back(gathered(2, values[2], {"y"}));  // another output selection
  requests.push_back(gathered(3, values[3]));         // 6 rows: past 8 with 0 and 1
  requests.push_back(gathered(4, values[4]));
  batcher->run_gathered(requests);
  for (int slot = 0; slot < 5; ++slot) {
    auto answer = answers_[slot].get_future();
    ASSERT_EQ(answer.wait_for(std::chrono::seconds(0)), std::future_status::ready) << slot;
    const Answer got = answer.get();
    EXPECT_EQ(got.thread, std::this_thread::get_id()) << slot;
    expect_doubled(slot, values[slot], got);
  }
  EXPECT_EQ(batcher->batches_run(), 3u);  // {0, 1, 4}, {2}, {3}
  EXPECT_EQ(batcher->rows_run(), 11u);
}

// With every batch slot taken, gathered requests go to the workers' queue (answered on a
// batcher thread, together); one the full queue cannot take is refused at once with
// kQueueFullCode, never dropped.
TEST_F(AsyncBatcherTest, GatheredRequestsQueueWhenTheWorkersAreBusy) {
  auto batcher = make(2);
  submit(*batcher, 0, {1});
  started_.get_future().wait();  // the only worker is busy
  std::vector<DynamicBatcher::Gathered> requests;
  requests.push_back(gathered(1, {2}));
  requests.push_back(gathered(2, {3}));
  requests.push_back(gathered(3, {4}));
  batcher->run_gathered(requests);
  auto refused = answers_[3].get_future();
  ASSERT_EQ(refused.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  const Answer full = refused.get();
  ASSERT_TRUE(full.result.failure);
  EXPECT_EQ(full.result.failure->code, kQueueFullCode);
  release_.set_value();
  expect_doubled(0, {1}, answers_[0].get_future().get());
  for (int slot = 1; slot <= 2; ++slot) {
    const Answer answer = answers_[slot].get_future().get();
    EXPECT_NE(answer.thread, std::this_thread::get_id()) << slot;
    expect_doubled(slot, {static_cast<float>(slot + 1)}, answer);
  }
  EXPECT_EQ(batcher->batches_run(), 2u);  // the two queued ones shared a batch
}

// runs_fast weighs a batch's time per request in it: 8 gathered requests sharing one
// 30 ms execute cost 3.75 ms each, so the model stays fast for a 20 ms limit; a request
// alone in a 30 ms execute does not. (The margins are wide: only a stall of over 130 ms
// inside the execute could turn the first expectation.)
TEST_F(AsyncBatcherTest, RunsFastWeighsABatchPerRequest) {
  auto execute = [](const BatchInput& batch) {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    BatchOutput output;
    const auto& x = batch.inputs.at(0);
    OutputTensor y{"y", DType::kFp32, x.shape, std::make_unique<std::byte[]>(x.byte_size),
                   x.byte_size};
    output.outputs.push_back(std::move(y));
    output.request_failures.resize(batch.request_rows.size());
    return output;
  };
  const float one = 1;
  auto request = [&] {
    TensorRef x{"x", DType::kFp32, {1, 1}, &one, sizeof one};
    return DynamicBatcher::Gathered{{x}, {}, [](RequestResult) {}, {}};
  };
  DynamicBatcher gathering(metadata_, execute, BatcherOptions{}, 1);
  std::vector<DynamicBatcher::Gathered> eight;
  for (int i = 0; i < 8; ++i) eight.push_back(request());
  gathering.run_gathered(eight);
  EXPECT_EQ(gathering.batches_run(), 1u);
  EXPECT_TRUE(gathering.runs_fast(std::chrono::milliseconds(20)));
  DynamicBatcher alone(metadata_, execute, BatcherOptions{}, 1);
  std::vector<DynamicBatcher::Gathered> single;
  single.push_back(request());
  alone.run_gathered(single);
  EXPECT_EQ(alone.batches_run(), 1u);
  EXPECT_FALSE(alone.runs_fast(std::chrono::milliseconds(20)));
}

TEST_F(AsyncBatcherTest, AFullQueueRefusesWithoutCallingBack) {
  auto batcher = make(1);
  submit(*batcher, 0, {1});
  started_.get_future().wait();
  submit(*batcher, 1, {2});
  EXPECT_THROW(submit(*batcher, 2, {3}), QueueFull);
  release_.set_value();
  EXPECT_FALSE(answers_[0].get_future().get().result.failure);
  EXPECT_FALSE(answers_[1].get_future().get().result.failure);
  batcher.reset();  // every accepted request answered; the refused one never is
  EXPECT_EQ(answers_[2].get_future().wait_for(std::chrono::seconds(0)),
            std::future_status::timeout);
}

}  // namespace
}  // namespace mg::gateway
