#include "gateway/serving/batcher.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "common/log.h"
#include "gateway/plugin_host/backend_error.h"

namespace mg::gateway {

DynamicBatcher::DynamicBatcher(const ModelMetadata& metadata, Execute execute,
                               BatcherOptions options, int workers)
    : metadata_(metadata),
      execute_(std::move(execute)),
      options_(std::move(options)),
      max_rows_(std::max<int64_t>(metadata.max_batch_size, 1)) {
  for (int i = 0; i < std::max(workers, 1); ++i) workers_.emplace_back([this] { work(); });
}

DynamicBatcher::~DynamicBatcher() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_all();
  for (auto& worker : workers_) worker.join();
}

std::future<RequestResult> DynamicBatcher::submit(std::vector<TensorRef> inputs,
                                                  std::vector<std::string> outputs) {
  Submitted submitted = submit_cancellable(std::move(inputs), std::move(outputs));
  if (!submitted.ran_here) return std::move(submitted.result);
  std::promise<RequestResult> ready;
  ready.set_value(std::move(*submitted.ran_here));
  return ready.get_future();
}

bool DynamicBatcher::cancel(uint64_t ticket) {
  std::lock_guard lock(mutex_);
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    if (it->ticket == ticket) {
      queue_.erase(it);
      --load_;
      return true;
    }
  }
  if (forming_.count(ticket) != 0) {  // in a batch still waiting for company: dropped there
    cancelled_.insert(ticket);
    return true;
  }
  return false;
}

DynamicBatcher::Pending DynamicBatcher::pending_of(std::vector<TensorRef> inputs,
                                                   std::vector<std::string> outputs,
                                                   Done done) const {
  const bool batching = metadata_.max_batch_size > 0;
  const uint64_t rows = batching && !inputs.empty() && !inputs[0].shape.empty()
                            ? static_cast<uint64_t>(inputs[0].shape[0])
                            : 1;
  return Pending{0,
                 std::move(inputs),
                 std::move(outputs),
                 rows,
                 std::chrono::steady_clock::now(),
                 std::chrono::steady_clock::time_point::max(),
                 std::move(done)};
}

void DynamicBatcher::enqueue(Pending pending) {
  if (queue_.size() >= options_.max_queue) {
    --load_;
    throw QueueFull();
  }
  queue_.push_back(std::move(pending));
}

DynamicBatcher::Submitted DynamicBatcher::submit_cancellable(std::vector<TensorRef> inputs,
                                                             std::vector<std::string> outputs) {
  Submitted submitted;
  ++load_;
  std::unique_lock lock(mutex_);
  submitted.ticket = ++next_ticket_;
  const bool run_here = options_.max_queue_delay.count() == 0 && queue_.empty() &&
                        busy_ < static_cast<int>(workers_.size()) && !stopping_;
  if (run_here) {
    ++busy_;
    lock.unlock();
    std::vector<Pending> batch;
    batch.push_back(pending_of(
        std::move(inputs), std::move(outputs),
        [&submitted](RequestResult result) { submitted.ran_here.emplace(std::move(result)); }));
    batch.back().ticket = submitted.ticket;
    run_batch(batch);
    if (!submitted.ran_here) {  // the result could not be stored (out of memory)
      submitted.ran_here.emplace(
          RequestResult{Failure{MG_ERROR_OUT_OF_MEMORY, "out of memory storing the result"}});
    }
    lock.lock();
    --busy_;
    return submitted;
  }
  auto promise = std::make_shared<std::promise<RequestResult>>();
  submitted.result = promise->get_future();
  Pending pending =
      pending_of(std::move(inputs), std::move(outputs), [promise](RequestResult result) {
        try {
          promise->set_value(std::move(result));
        } catch (...) {
          // The value could not be stored (out of memory): the future sees a broken
          // promise when the last copy of `promise` goes, which the caller answers as a
          // failure.
        }
      });
  pending.ticket = submitted.ticket;
  enqueue(std::move(pending));
  lock.unlock();
  ready_.notify_one();
  return submitted;
}

void DynamicBatcher::submit_async(std::vector<TensorRef> inputs, std::vector<std::string> outputs,
                                  std::chrono::steady_clock::time_point deadline, Done done) {
  Pending pending = pending_of(std::move(inputs), std::move(outputs), std::move(done));
  pending.deadline = deadline;
  ++load_;
  {
    std::lock_guard lock(mutex_);
    pending.ticket = ++next_ticket_;
    enqueue(std::move(pending));
  }
  ready_.notify_one();
}

void DynamicBatcher::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and everything queued has been run
    if (std::vector<Pending> expired = take_expired(); !expired.empty()) {
      lock.unlock();
      expire(expired);
      lock.lock();
      continue;
    }
    std::vector<Pending> batch = take_batch(lock);
    if (batch.empty()) continue;  // every request in it was cancelled while it formed
    ++busy_;
    lock.unlock();
    run_batch(batch);
    lock.lock();
    --busy_;
  }
}

std::vector<DynamicBatcher::Pending> DynamicBatcher::take_expired() {
  std::vector<Pending> expired;
  const auto now = std::chrono::steady_clock::now();
  for (auto it = queue_.begin(); it != queue_.end();) {
    if (it->deadline > now) {
      ++it;
      continue;
    }
    expired.push_back(std::move(*it));
    it = queue_.erase(it);
  }
  return expired;
}

void DynamicBatcher::expire(std::vector<Pending>& expired) noexcept {
  for (auto& p : expired) {
    --load_;
    try {
      RequestResult result;
      result.failure = Failure{kQueueDeadlineCode, "the request waited past its deadline"};
      result.queue_time = std::chrono::steady_clock::now() - p.arrived;
      p.done(std::move(result));
    } catch (...) {
      log(LogLevel::kError, "a request past its deadline could not be answered");
    }
  }
}

// Called with the lock held and a non-empty queue. Takes the oldest request and, when the
// model batches, later ones that fit, waiting up to max_queue_delay (from the oldest
// request's arrival) for more to arrive.
std::vector<DynamicBatcher::Pending> DynamicBatcher::take_batch(
    std::unique_lock<std::mutex>& lock) {
  std::vector<Pending> batch;
  batch.push_back(std::move(queue_.front()));
  queue_.pop_front();
  uint64_t rows = batch[0].rows;
  if (metadata_.max_batch_size <= 0) return batch;
  forming_.insert(batch[0].ticket);
  // Drops what was cancelled while the batch formed (cancel() told its caller it will not
  // run), and stops tracking the rest.
  auto finished = [&] {
    std::erase_if(batch, [&](const Pending& p) {
      forming_.erase(p.ticket);
      if (cancelled_.erase(p.ticket) == 0) return false;
      --load_;
      return true;
    });
    return std::move(batch);
  };
  const auto deadline = batch[0].arrived + options_.max_queue_delay;
  auto preferred = [&] {
    return std::find(options_.preferred_batch_sizes.begin(), options_.preferred_batch_sizes.end(),
                     static_cast<int64_t>(rows)) != options_.preferred_batch_sizes.end();
  };
  for (;;) {
    // Join every compatible queued request that fits.
    for (auto it = queue_.begin(); it != queue_.end();) {
      if (compatible(batch[0], *it) && rows + it->rows <= static_cast<uint64_t>(max_rows_)) {
        rows += it->rows;
        forming_.insert(it->ticket);
        batch.push_back(std::move(*it));
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
    if (rows >= static_cast<uint64_t>(max_rows_) || preferred() || stopping_ ||
        std::chrono::steady_clock::now() >= deadline) {
      return finished();
    }
    ready_.wait_until(lock, deadline);
  }
}

namespace {

// Requests share a batch only when every input has the same dimensions after the batch
// dimension: a model whose dimension 1 is dynamic (a sequence length) would otherwise
// get byte-concatenated rows of different lengths, cut to the first request's shape, and
// one request's answer computed on another's data.
bool same_row_shapes(const std::vector<TensorRef>& a, const std::vector<TensorRef>& b) {
  if (a.size() != b.size()) return false;
  for (const auto& x : a) {
    auto y = std::find_if(b.begin(), b.end(), [&](const TensorRef& t) { return t.name == x.name; });
    if (y == b.end() || y->shape.size() != x.shape.size() ||
        !std::equal(x.shape.begin() + std::min<std::size_t>(1, x.shape.size()), x.shape.end(),
                    y->shape.begin() + std::min<std::size_t>(1, y->shape.size()))) {
      return false;
    }
  }
  return true;
}

// The whole-batch failure to answer every request of a part with.
Failure failure_of(const std::exception& e) {
  if (const auto* backend = dynamic_cast<const BackendError*>(&e)) {
    return Failure{backend->code(), backend->what()};
  }
  if (dynamic_cast<const std::bad_alloc*>(&e) != nullptr) {
    return Failure{MG_ERROR_OUT_OF_MEMORY, "out of memory running the batch"};
  }
  return Failure{MG_ERROR_INTERNAL, e.what()};
}

// The serialised size of `rows` rows of a BYTES output starting at byte `from`: each
// row holds product(shape[1:]) elements of a 4-byte little-endian length and its bytes.
// The host checked the output's layout; a walk past its end is still refused, not read.
uint64_t bytes_rows_size(const OutputTensor& out, uint64_t from, uint64_t rows) {
  uint64_t per_row = 1;
  for (std::size_t d = 1; d < out.shape.size(); ++d) per_row *= static_cast<uint64_t>(out.shape[d]);
  uint64_t at = from;
  for (uint64_t e = 0; e < rows * per_row; ++e) {
    uint32_t length = 0;
    if (out.byte_size - at < 4) throw BackendError(MG_ERROR_INTERNAL, "a BYTES output ends early");
    std::memcpy(&length, out.data.get() + at, 4);
    at += 4;
    if (out.byte_size - at < length) {
      throw BackendError(MG_ERROR_INTERNAL, "a BYTES output ends early");
    }
    at += length;
  }
  return at - from;
}

}  // namespace

bool DynamicBatcher::compatible(const Pending& a, const Pending& b) {
  return a.outputs == b.outputs && same_row_shapes(a.inputs, b.inputs);
}

BatchInput DynamicBatcher::merge(std::span<Pending> part,
                                 std::vector<std::vector<std::byte>>& storage) const {
  BatchInput input;
  for (const auto& p : part) input.request_rows.push_back(p.rows);
  if (part.size() == 1) {
    // A single request is passed through as it is: moved, since a part of one is never
    // run again (only a failed part of several is split and retried).
    input.inputs = std::move(part[0].inputs);
    input.outputs = std::move(part[0].outputs);
    return input;
  }
  input.outputs = part[0].outputs;
  storage.reserve(metadata_.inputs.size());
  for (const auto& declared : metadata_.inputs) {
    TensorRef joined{declared.name, declared.dtype, {}, nullptr, 0};
    std::size_t total = 0;  // reserved first: appending would reallocate (and copy) ~log2(n) times
    for (const auto& p : part) {
      for (const auto& t : p.inputs) total += t.name == declared.name ? t.byte_size : 0;
    }
    std::vector<std::byte> bytes;
    bytes.reserve(total);
    int64_t rows = 0;
    for (const auto& p : part) {
      for (const auto& t : p.inputs) {
        if (t.name != declared.name) continue;
        if (joined.shape.empty()) joined.shape = t.shape;
        if (!std::equal(t.shape.begin() + 1, t.shape.end(), joined.shape.begin() + 1,
                        joined.shape.end())) {
          // take_batch groups by shape: reaching this is a bug, never a merged answer.
          throw BackendError(MG_ERROR_INTERNAL, "batcher: requests of different shapes met");
        }
        rows += t.shape[0];
        const auto* data = static_cast<const std::byte*>(t.data);
        bytes.insert(bytes.end(), data, data + t.byte_size);
      }
    }
    joined.shape[0] = rows;
    storage.push_back(std::move(bytes));
    joined.data = storage.back().data();
    joined.byte_size = storage.back().size();
    input.inputs.push_back(std::move(joined));
  }
  return input;
}

void DynamicBatcher::run_part(std::span<Pending> part, std::span<RequestResult> results) {
  BatchOutput output;
  std::chrono::nanoseconds took{0};
  try {
    std::vector<std::vector<std::byte>> storage;
    const BatchInput input = merge(part, storage);
    const auto started = std::chrono::steady_clock::now();
    try {
      output = execute_(input);
    } catch (const std::exception& e) {
      output.batch_failure = failure_of(e);
    }
    took = std::chrono::steady_clock::now() - started;
  } catch (const std::exception& e) {  // merging: out of memory, or the invariant above
    output.batch_failure = failure_of(e);
  }
  if (output.batch_failure && output.batch_failure->code != MG_ERROR_INVALID_ARGUMENT) {
    // The server's or the backend's failure, not a client's bad input: operators see it.
    log(LogLevel::kWarn, "batch of " + std::to_string(part.size()) +
                             " request(s) failed: " + output.batch_failure->message);
  }
  const int64_t took_ns = took.count() / static_cast<int64_t>(part.size());
  const int64_t before = recent_execute_ns_.load(std::memory_order_relaxed);
  recent_execute_ns_.store(before < 0 ? took_ns : (before * 7 + took_ns) / 8,
                           std::memory_order_relaxed);
  ++batches_;
  uint64_t part_rows = 0;
  for (const auto& p : part) part_rows += p.rows;
  rows_ += part_rows;
  if (observer_) observer_(part_rows, took);
  for (auto& result : results) result.compute_time += took;

  // A whole-batch INVALID_ARGUMENT over several requests is one request's fault (a token
  // id out of range, say), not everyone's: run each half again, down to the culprit, so
  // only it fails, with its own message. One bad request among n costs ~2·log2(n) more
  // executes, on the failure path only.
  if (output.batch_failure && output.batch_failure->code == MG_ERROR_INVALID_ARGUMENT &&
      part.size() > 1) {
    const std::size_t half = part.size() / 2;
    run_part(part.first(half), results.first(half));
    run_part(part.subspan(half), results.subspan(half));
    return;
  }
  if (output.request_failures.size() != part.size()) {  // a whole failure, or an execute
    output.request_failures.assign(                     // that answered the wrong count
        part.size(), output.batch_failure.value_or(
                         Failure{MG_ERROR_INTERNAL, "the backend answered the wrong count"}));
  }
  // Split every output back by rows (dimension 0 is rows). BYTES rows have no fixed size:
  // each output keeps a cursor that walks its serialised elements, row by row.
  std::vector<uint64_t> bytes_cursor(output.outputs.size(), 0);
  uint64_t first_row = 0;
  for (std::size_t r = 0; r < part.size(); ++r) {
    RequestResult& result = results[r];
    result.failure = output.request_failures[r];
    try {
      if (!result.failure && part.size() == 1) {
        result.outputs = std::move(output.outputs);
      } else if (!result.failure) {
        for (std::size_t o = 0; o < output.outputs.size(); ++o) {
          const OutputTensor& out = output.outputs[o];
          OutputTensor mine{out.name, out.dtype, out.shape, nullptr, 0};
          mine.shape[0] = static_cast<int64_t>(part[r].rows);
          uint64_t from = 0;
          if (out.dtype == DType::kBytes) {
            from = bytes_cursor[o];
            mine.byte_size = bytes_rows_size(out, from, part[r].rows);
            bytes_cursor[o] += mine.byte_size;
          } else {
            const uint64_t total_rows = static_cast<uint64_t>(out.shape[0]);
            const uint64_t row_bytes = total_rows ? out.byte_size / total_rows : 0;
            from = first_row * row_bytes;
            mine.byte_size = row_bytes * part[r].rows;
          }
          mine.data = std::make_unique_for_overwrite<std::byte[]>(mine.byte_size);
          std::memcpy(mine.data.get(), out.data.get() + from, mine.byte_size);
          result.outputs.push_back(std::move(mine));
        }
      }
    } catch (const std::exception& e) {  // out of memory copying this request's rows
      result.outputs.clear();
      result.failure = failure_of(e);
      log(LogLevel::kWarn, "a request's outputs could not be copied: " + result.failure->message);
    }
    first_row += part[r].rows;
  }
}

void DynamicBatcher::run_batch(std::vector<Pending>& batch, bool in_load) noexcept {
  const auto started = std::chrono::steady_clock::now();
  std::vector<RequestResult> results;
  try {
    results.resize(batch.size());
    run_part(batch, results);
  } catch (const std::exception& e) {
    // Only allocating the results can throw here: every request still gets an answer.
    log(LogLevel::kError, std::string("batch could not run: ") + e.what());
    for (auto& p : batch) {
      if (in_load) --load_;
      try {
        RequestResult failed;
        failed.failure = Failure{MG_ERROR_OUT_OF_MEMORY, "out of memory running the batch"};
        p.done(std::move(failed));
      } catch (...) {
        // Not even the failure could be made: a waiting caller's future sees a broken
        // promise when the Pending goes, which it answers as a failure.
      }
    }
    return;
  }
  for (std::size_t r = 0; r < batch.size(); ++r) {
    results[r].queue_time = started - batch[r].arrived;
    if (in_load) --load_;
    batch[r].done(std::move(results[r]));
  }
}

void DynamicBatcher::run_gathered(std::span<Gathered> requests) noexcept {
  std::vector<Pending> gathered;
  try {
    gathered.reserve(requests.size());  // the only step that may throw
  } catch (const std::bad_alloc&) {
    log(LogLevel::kError, "gathered requests could not be run: out of memory");
    for (auto& r : requests) {
      r.done(RequestResult{Failure{MG_ERROR_OUT_OF_MEMORY, "out of memory running the batch"}});
    }
    return;
  }
  for (auto& r : requests) {
    gathered.push_back(pending_of(std::move(r.inputs), std::move(r.outputs), std::move(r.done)));
    gathered.back().arrived = r.arrived;
    gathered.back().deadline = r.deadline;
  }
  std::unique_lock lock(mutex_);
  for (auto& p : gathered) p.ticket = ++next_ticket_;
  if (!queue_.empty() || busy_ >= static_cast<int>(workers_.size()) || stopping_) {
    // No slot here: the workers take them, in arrival order, behind what is queued.
    load_ += static_cast<int>(gathered.size());
    std::vector<Pending> refused;
    for (auto& p : gathered) {
      if (queue_.size() >= options_.max_queue) {
        refused.push_back(std::move(p));
      } else {
        queue_.push_back(std::move(p));
      }
    }
    lock.unlock();
    ready_.notify_all();
    for (auto& p : refused) {
      --load_;
      p.done(RequestResult{Failure{kQueueFullCode, "the model's queue is full"}});
    }
    return;
  }
  ++busy_;
  lock.unlock();
  // In load_ (runs_fast's hint) they count as the one slot they take, as a lone request
  // would: counted one by one, a gathered batch would send the other socket threads'
  // requests to the handler pool while it runs, though a slot is free for them.
  ++load_;
  // Cut into batches: each takes the oldest request left and every later compatible one
  // that fits, as take_batch does with the queue.
  std::vector<Pending> batch;
  for (std::size_t first = 0; first < gathered.size(); ++first) {
    if (!gathered[first].done) continue;  // already in an earlier batch
    batch.clear();
    uint64_t rows = gathered[first].rows;
    batch.push_back(std::move(gathered[first]));
    for (std::size_t i = first + 1; i < gathered.size(); ++i) {
      Pending& p = gathered[i];
      if (p.done && compatible(batch[0], p) && rows + p.rows <= static_cast<uint64_t>(max_rows_)) {
        rows += p.rows;
        batch.push_back(std::move(p));
        p.done = nullptr;
      }
    }
    gathered[first].done = nullptr;
    run_batch(batch, false);
  }
  --load_;
  lock.lock();
  --busy_;
}

bool DynamicBatcher::runs_fast(std::chrono::nanoseconds limit) const {
  const int64_t recent = recent_execute_ns_.load(std::memory_order_relaxed);
  return options_.max_queue_delay.count() == 0 && recent >= 0 && recent <= limit.count() &&
         load_.load(std::memory_order_relaxed) < static_cast<int>(workers_.size());
}

}  // namespace mg::gateway
