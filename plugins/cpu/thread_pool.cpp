#include "plugins/cpu/thread_pool.h"

#include <immintrin.h>

#include <algorithm>

namespace mg::cpu {
namespace {

// About 50-100 µs of polling before a thread blocks.
constexpr int kSpins = 1 << 14;

// Piece p of n items cut into `pieces` nearly equal parts.
std::pair<int64_t, int64_t> piece(int64_t n, int pieces, int p) {
  return {n * p / pieces, n * (p + 1) / pieces};
}

template <typename Done>
bool spin_until(Done&& done) {
  for (int i = 0; i < kSpins; ++i) {
    if (done()) return true;
    _mm_pause();
  }
  return done();
}

}  // namespace

ThreadPool::ThreadPool(int threads) {
  for (int i = 1; i < std::max(threads, 1); ++i) workers_.emplace_back([this, i] { work(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& worker : workers_) worker.join();
}

void ThreadPool::parallel_for(int64_t n, int64_t grain,
                              const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  const int pieces = static_cast<int>(
      std::min<int64_t>(size(), std::max<int64_t>(1, n / std::max<int64_t>(grain, 1))));
  if (pieces <= 1) {
    fn(0, n);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    job_ = &fn;
    job_n_ = n;
    pieces_ = pieces;
    pending_.store(pieces - 1);
    job_id_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  auto [begin, end] = piece(n, pieces, 0);
  fn(begin, end);
  if (!spin_until([this] { return pending_.load(std::memory_order_acquire) == 0; })) {
    std::unique_lock lock(mutex_);
    done_.wait(lock, [this] { return pending_.load() == 0; });
  }
}

void ThreadPool::work(int index) {
  uint64_t seen = 0;
  for (;;) {
    if (!spin_until(
            [&] { return stop_.load() || job_id_.load(std::memory_order_acquire) != seen; })) {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stop_.load() || job_id_.load() != seen; });
    }
    if (stop_.load()) return;
    const std::function<void(int64_t, int64_t)>* fn;
    int64_t n;
    int pieces;
    {
      std::lock_guard lock(mutex_);
      seen = job_id_.load();
      fn = job_;
      n = job_n_;
      pieces = pieces_;
    }
    if (index >= pieces) continue;  // this job needs fewer threads
    auto [begin, end] = piece(n, pieces, index);
    (*fn)(begin, end);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard lock(mutex_);
      done_.notify_one();
    }
  }
}

}  // namespace mg::cpu
