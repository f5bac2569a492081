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
  for (int i = 1; i < std::max(threads, 1); ++i) workers_.emplace_back([this] { work(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& worker : workers_) worker.join();
}

void ThreadPool::claim_pieces(uint64_t job, const std::function<void(int64_t, int64_t)>& fn,
                              int64_t n, int pieces) {
  const uint64_t tag = (job & 0xffffffffu) << 32;
  uint64_t claim = claim_.load(std::memory_order_acquire);
  for (;;) {
    if ((claim & ~uint64_t{0xffffffffu}) != tag) return;  // another job now
    const auto p = static_cast<int>(claim & 0xffffffffu);
    if (p >= pieces) return;
    if (!claim_.compare_exchange_weak(claim, claim + 1, std::memory_order_acq_rel)) continue;
    auto [begin, end] = piece(n, pieces, p);
    fn(begin, end);
    done_pieces_.fetch_add(1, std::memory_order_acq_rel);
    claim = claim_.load(std::memory_order_acquire);
  }
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
  uint64_t job;
  {
    std::lock_guard lock(mutex_);
    job_ = &fn;
    job_n_ = n;
    pieces_ = pieces;
    done_pieces_.store(0, std::memory_order_relaxed);
    job = job_id_.load(std::memory_order_relaxed) + 1;
    claim_.store((job & 0xffffffffu) << 32, std::memory_order_release);
    job_id_.store(job, std::memory_order_release);
  }
  wake_.notify_all();
  claim_pieces(job, fn, n, pieces);
  // Only pieces a worker has started are left: they are running, not waiting for a wake-up.
  if (!spin_until([&] { return done_pieces_.load(std::memory_order_acquire) == pieces; })) {
    std::unique_lock lock(mutex_);
    done_.wait(lock, [&] { return done_pieces_.load() == pieces; });
  }
}

void ThreadPool::work() {
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
    claim_pieces(seen, *fn, n, pieces);
    if (done_pieces_.load(std::memory_order_acquire) == pieces) {
      std::lock_guard lock(mutex_);
      done_.notify_one();
    }
  }
}

}  // namespace mg::cpu
