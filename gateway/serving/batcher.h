#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "gateway/plugin_host/tensor.h"

namespace mg::gateway {

struct BatcherOptions {
  // Longest a request waits for others to join its batch (0: take what is queued now).
  std::chrono::microseconds max_queue_delay{0};
  // Batch sizes worth waiting for: a batch stops growing once it reaches one of them.
  std::vector<int64_t> preferred_batch_sizes;
  // Requests waiting at most; beyond this submit() refuses with QueueFull.
  std::size_t max_queue = 256;
};

// The queue was full: the caller answers 503 overloaded with Retry-After.
class QueueFull : public std::runtime_error {
 public:
  QueueFull() : std::runtime_error("the model's queue is full") {}
};

// One request's share of a batch's outputs.
struct RequestResult {
  std::optional<Failure> failure;
  std::vector<OutputTensor> outputs;         // this request's rows only
  std::chrono::nanoseconds queue_time{0};    // arrival to its batch starting
  std::chrono::nanoseconds compute_time{0};  // its batch's execute call
};

// The dynamic batcher of one loaded version: concurrent requests are queued, merged along
// dimension 0 (up to the model's max batch size), run as one execute call on one of the
// version's instances, and the outputs split back to each request. One worker thread per
// instance. Requests share a batch only when they ask for the same outputs and their inputs
// agree on every dimension after the first (a dynamic sequence length groups by length).
// When a batch of several requests fails as a whole with INVALID_ARGUMENT, it is run again
// in halves so that only the offending request fails.
class DynamicBatcher {
 public:
  using Execute = std::function<BatchOutput(const BatchInput&)>;
  // Told about every batch run: its rows and its execute time (metrics).
  using BatchObserver = std::function<void(uint64_t rows, std::chrono::nanoseconds compute)>;
  void set_observer(BatchObserver observer) { observer_ = std::move(observer); }

  // metadata and execute belong to the version served; both must outlive the batcher.
  DynamicBatcher(const ModelMetadata& metadata, Execute execute, BatcherOptions options,
                 int workers);
  ~DynamicBatcher();  // finishes every queued request, then stops the workers

  // Queues one request (inputs already validated against the metadata; every input's
  // dimension 0 is its row count). The future completes when its batch has run. Throws
  // QueueFull. The inputs' data must stay valid until the future is ready.
  // When nothing is queued, a batch slot is free and the model waits for no one
  // (max_queue_delay 0), the request runs at once on the calling thread: thread hand-offs
  // cost more than a small model's inference on a VM.
  std::future<RequestResult> submit(std::vector<TensorRef> inputs,
                                    std::vector<std::string> outputs);

  // submit() for a caller that may give up waiting: `ticket` names the request for
  // cancel(). Until cancel() returns true or the future is ready, the inputs' data must
  // stay valid. A request run at once on the calling thread comes back in `ran_here`
  // (and `result` is empty): a promise costs a futex wake-up per request (std::call_once
  // in set_value), a tenth of a small model's request.
  struct Submitted {
    std::optional<RequestResult> ran_here;
    std::future<RequestResult> result;
    uint64_t ticket = 0;
  };
  Submitted submit_cancellable(std::vector<TensorRef> inputs, std::vector<std::string> outputs);
  // Takes a request out of the queue if no batch has taken it yet: true, and it will never
  // run (its future is never made ready). False when it is running or done: the caller
  // must wait for its future.
  bool cancel(uint64_t ticket);

  // submit() for a caller that does not wait (a socket thread): `done` is called once with
  // the result, on a batcher thread, never on the calling one. A request still queued at
  // `deadline` is never run: `done` gets a kQueueDeadlineCode failure instead. Throws
  // QueueFull (and then never calls `done`). The inputs' data must stay valid until `done`
  // is called; `done` must not throw.
  using Done = std::function<void(RequestResult)>;
  void submit_async(std::vector<TensorRef> inputs, std::vector<std::string> outputs,
                    std::chrono::steady_clock::time_point deadline, Done done);

  // Requests one socket thread gathered while it ran the handlers that were ready together,
  // run on the calling thread as few batches as they fit in (compatible, at most the
  // model's max batch size each): what arrived together costs one execute call and no
  // thread hand-off. When every batch slot is taken or others are queued, they are queued
  // for the workers instead. Each `done` is called once, on this thread or a batcher
  // thread; one the full queue refuses gets a kQueueFullCode failure. `done` must not
  // throw.
  struct Gathered {
    std::vector<TensorRef> inputs;
    std::vector<std::string> outputs;
    Done done;
    std::chrono::steady_clock::time_point arrived;  // when it was gathered: its queue time
    // Queued for the workers and not started by then: never run (kQueueDeadlineCode).
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  };
  void run_gathered(std::span<Gathered> requests) noexcept;
  // Whether requests may be gathered: the model waits for no one (max_queue_delay 0).
  bool gathers() const { return options_.max_queue_delay.count() == 0; }

  // True when a request would run at once and briefly: the model waits for no one
  // (max_queue_delay 0), a batch slot is free, and recent batches took at most `limit`
  // (an average over the last few; false until one has run). The HTTPS server then runs
  // it on the socket thread, saving two thread hand-offs; slow models never block sockets.
  // A batch's time counts per request in it: what each of them cost.
  bool runs_fast(std::chrono::nanoseconds limit) const;

  // Batches run so far and the rows they held (for tests and metrics).
  uint64_t batches_run() const { return batches_.load(); }
  uint64_t rows_run() const { return rows_.load(); }

 private:
  struct Pending {
    uint64_t ticket = 0;
    std::vector<TensorRef> inputs;
    std::vector<std::string> outputs;
    uint64_t rows;
    std::chrono::steady_clock::time_point arrived;
    std::chrono::steady_clock::time_point deadline;  // queued past it: never run
    Done done;                                       // called once, with the result
  };

  Pending pending_of(std::vector<TensorRef> inputs, std::vector<std::string> outputs,
                     Done done) const;
  // Queues `pending` (lock held); throws QueueFull.
  void enqueue(Pending pending);
  void work();
  // Takes the queued requests whose deadline has passed out of the queue (lock held; a
  // scan of at most max_queue entries per batch).
  std::vector<Pending> take_expired();
  // Answers them: never run (kQueueDeadlineCode).
  void expire(std::vector<Pending>& expired) noexcept;
  std::vector<Pending> take_batch(std::unique_lock<std::mutex>& lock);
  // Runs a batch and answers every request in it, whatever fails (never throws).
  // `in_load`: its requests are counted in load_ one by one (false for gathered ones,
  // which run_gathered counts as the one slot they take).
  void run_batch(std::vector<Pending>& batch, bool in_load = true) noexcept;
  // Runs `part` as one execute call and fills `results` (same length); bisects a
  // whole-batch INVALID_ARGUMENT down to its culprit. Throws only std::bad_alloc.
  void run_part(std::span<Pending> part, std::span<RequestResult> results);
  // `part`'s inputs joined along dimension 0; `storage` holds the joined bytes.
  BatchInput merge(std::span<Pending> part, std::vector<std::vector<std::byte>>& storage) const;
  // Whether b may join a's batch: the same outputs and the same dimensions 1..n.
  static bool compatible(const Pending& a, const Pending& b);

  const ModelMetadata& metadata_;
  Execute execute_;
  BatcherOptions options_;
  const int64_t max_rows_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Pending> queue_;
  int busy_ = 0;  // batches running now, on workers or on submitting threads
  bool stopping_ = false;
  std::vector<std::thread> workers_;
  std::atomic<uint64_t> batches_{0}, rows_{0};
  uint64_t next_ticket_ = 0;  // under mutex_
  // Tickets in batches a worker is still forming (waiting for more requests), and those of
  // them cancelled meanwhile: dropped before the batch runs. Under mutex_.
  std::unordered_set<uint64_t> forming_, cancelled_;
  BatchObserver observer_;                      // set before the first submit
  std::atomic<int> load_{0};                    // requests queued or running (a hint)
  std::atomic<int64_t> recent_execute_ns_{-1};  // moving average of execute time per request
};

}  // namespace mg::gateway
