#include "serving/batcher.h"

#include <algorithm>
#include <cstring>

#include "plugin_host/backend_error.h"

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
  const bool batching = metadata_.max_batch_size > 0;
  uint64_t rows = batching && !inputs.empty() && !inputs[0].shape.empty()
                      ? static_cast<uint64_t>(inputs[0].shape[0])
                      : 1;
  Pending pending{
      std::move(inputs), std::move(outputs), rows, std::chrono::steady_clock::now(), {}};
  auto future = pending.promise.get_future();
  ++load_;
  {
    std::unique_lock lock(mutex_);
    const bool run_here = options_.max_queue_delay.count() == 0 && queue_.empty() &&
                          busy_ < static_cast<int>(workers_.size()) && !stopping_;
    if (run_here) {
      ++busy_;
      lock.unlock();
      std::vector<Pending> batch;
      batch.push_back(std::move(pending));
      run_batch(batch);
      lock.lock();
      --busy_;
      return future;
    }
    if (queue_.size() >= options_.max_queue) {
      --load_;
      throw QueueFull();
    }
    queue_.push_back(std::move(pending));
  }
  ready_.notify_one();
  return future;
}

void DynamicBatcher::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and everything queued has been run
    std::vector<Pending> batch = take_batch(lock);
    ++busy_;
    lock.unlock();
    run_batch(batch);
    lock.lock();
    --busy_;
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
  const auto deadline = batch[0].arrived + options_.max_queue_delay;
  auto preferred = [&] {
    return std::find(options_.preferred_batch_sizes.begin(), options_.preferred_batch_sizes.end(),
                     static_cast<int64_t>(rows)) != options_.preferred_batch_sizes.end();
  };
  for (;;) {
    // Join every compatible queued request that fits.
    for (auto it = queue_.begin(); it != queue_.end();) {
      if (it->outputs == batch[0].outputs && rows + it->rows <= static_cast<uint64_t>(max_rows_)) {
        rows += it->rows;
        batch.push_back(std::move(*it));
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
    if (rows >= static_cast<uint64_t>(max_rows_) || preferred() || stopping_ ||
        std::chrono::steady_clock::now() >= deadline) {
      return batch;
    }
    ready_.wait_until(lock, deadline);
  }
}

void DynamicBatcher::run_batch(std::vector<Pending>& batch) {
  const ModelMetadata& metadata = metadata_;
  BatchInput input;
  for (const auto& p : batch) input.request_rows.push_back(p.rows);
  input.outputs = batch[0].outputs;
  // Merge each input along dimension 0 (a single request is passed through as it is).
  std::vector<std::vector<std::byte>> merged;
  if (batch.size() == 1) {
    input.inputs = batch[0].inputs;
  } else {
    for (const auto& declared : metadata.inputs) {
      TensorRef joined{declared.name, declared.dtype, {}, nullptr, 0};
      std::vector<std::byte> bytes;
      int64_t rows = 0;
      for (const auto& p : batch) {
        for (const auto& t : p.inputs) {
          if (t.name != declared.name) continue;
          if (joined.shape.empty()) joined.shape = t.shape;
          rows += t.shape[0];
          const auto* data = static_cast<const std::byte*>(t.data);
          bytes.insert(bytes.end(), data, data + t.byte_size);
        }
      }
      joined.shape[0] = rows;
      merged.push_back(std::move(bytes));
      joined.data = merged.back().data();
      joined.byte_size = merged.back().size();
      input.inputs.push_back(std::move(joined));
    }
  }
  BatchOutput output;
  const auto started = std::chrono::steady_clock::now();
  try {
    output = execute_(input);
  } catch (const BackendError& e) {
    output.request_failures.assign(batch.size(), Failure{e.code(), e.what()});
  } catch (const std::exception& e) {
    output.request_failures.assign(batch.size(), Failure{MG_ERROR_INTERNAL, e.what()});
  }
  const int64_t took = std::chrono::duration_cast<std::chrono::nanoseconds>(
                           std::chrono::steady_clock::now() - started)
                           .count();
  const int64_t before = recent_execute_ns_.load(std::memory_order_relaxed);
  recent_execute_ns_.store(before < 0 ? took : (before * 7 + took) / 8, std::memory_order_relaxed);
  ++batches_;
  uint64_t batch_rows = 0;
  for (const auto& p : batch) batch_rows += p.rows;
  rows_ += batch_rows;
  if (observer_) observer_(batch_rows, std::chrono::nanoseconds(took));
  // Split every output back by rows (fixed-size dtypes: dimension 0 is rows).
  uint64_t first_row = 0;
  for (std::size_t r = 0; r < batch.size(); ++r) {
    RequestResult result;
    result.failure = output.request_failures.at(r);
    result.queue_time = started - batch[r].arrived;
    result.compute_time = std::chrono::nanoseconds(took);
    if (!result.failure && batch.size() == 1) {
      result.outputs = std::move(output.outputs);
    } else if (!result.failure) {
      for (const auto& out : output.outputs) {
        if (out.dtype == DType::kBytes) {  // variable-size rows cannot be cut by count
          result.failure = Failure{MG_ERROR_UNSUPPORTED, "BYTES outputs cannot be batched"};
          result.outputs.clear();
          break;
        }
        OutputTensor mine{out.name, out.dtype, out.shape, nullptr, 0};
        const uint64_t total_rows = static_cast<uint64_t>(out.shape[0]);
        const uint64_t row_bytes = total_rows ? out.byte_size / total_rows : 0;
        mine.shape[0] = static_cast<int64_t>(batch[r].rows);
        mine.byte_size = row_bytes * batch[r].rows;
        mine.data = std::make_unique_for_overwrite<std::byte[]>(mine.byte_size);
        std::memcpy(mine.data.get(), out.data.get() + first_row * row_bytes, mine.byte_size);
        result.outputs.push_back(std::move(mine));
      }
    }
    first_row += batch[r].rows;
    --load_;
    batch[r].promise.set_value(std::move(result));
  }
}

bool DynamicBatcher::runs_fast(std::chrono::nanoseconds limit) const {
  const int64_t recent = recent_execute_ns_.load(std::memory_order_relaxed);
  return options_.max_queue_delay.count() == 0 && recent >= 0 && recent <= limit.count() &&
         load_.load(std::memory_order_relaxed) < static_cast<int>(workers_.size());
}

}  // namespace mg::gateway
