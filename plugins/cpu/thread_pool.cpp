#include "thread_pool.h"

#include <algorithm>

namespace mg::cpu {

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

namespace {
// Piece p of n items cut into `pieces` nearly equal parts.
std::pair<int64_t, int64_t> piece(int64_t n, int pieces, int p) {
  return {n * p / pieces, n * (p + 1) / pieces};
}
}  // namespace

void ThreadPool::parallel_for(int64_t n, int64_t grain,
                              const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  int pieces = static_cast<int>(
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
    pending_ = pieces - 1;
    ++job_id_;
  }
  wake_.notify_all();
  auto [begin, end] = piece(n, pieces, 0);
  fn(begin, end);
  std::unique_lock lock(mutex_);
  done_.wait(lock, [this] { return pending_ == 0; });
  job_ = nullptr;
}

void ThreadPool::work(int index) {
  uint64_t seen = 0;
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stop_ || job_id_ != seen; });
    if (stop_) return;
    seen = job_id_;
    if (index >= pieces_) continue;  // this job needs fewer threads
    auto [begin, end] = piece(job_n_, pieces_, index);
    const auto* fn = job_;
    lock.unlock();
    (*fn)(begin, end);
    lock.lock();
    if (--pending_ == 0) done_.notify_one();
  }
}

}  // namespace mg::cpu
