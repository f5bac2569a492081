#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace mg::cpu {

// A fixed set of worker threads for one instance, used by kernels to split work.
// parallel_for runs on the caller plus the workers; with 1 thread it is a plain loop.
// Waking a sleeping thread costs tens of microseconds on a VM, more than many kernels
// take, so workers spin briefly after each job before they sleep, and the caller never
// waits for one to wake: every thread, the caller too, claims the job's pieces one at a
// time, so a caller whose workers are still asleep runs the pieces itself and waits only
// for pieces a worker has started.
class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls fn(begin, end) over [0, n) in contiguous pieces, at least `grain` items each,
  // spread over the threads. Returns when every piece is done. Not reentrant.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

 private:
  void work();

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  // Runs the current job's unclaimed pieces; `job` is the job id the caller read.
  void claim_pieces(uint64_t job, const std::function<void(int64_t, int64_t)>& fn, int64_t n,
                    int pieces);

  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  int64_t job_n_ = 0;
  int pieces_ = 0;
  std::atomic<uint64_t> job_id_{0};
  // The job id (high 32 bits) and its next unclaimed piece (low 32): a piece is claimed
  // only while its job is the current one, so a worker that woke late never runs a piece
  // of a job that has ended.
  std::atomic<uint64_t> claim_{0};
  std::atomic<int> done_pieces_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace mg::cpu
