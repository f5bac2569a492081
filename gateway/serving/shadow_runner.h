#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

namespace mg::gateway {

// Where the copies of requests sent to shadow candidates run (docs/evaluation.md "Shadow"):
// one thread at the kernel's lowest CPU priority (SCHED_IDLE), so that a shadow only uses
// CPU time the callers leave idle and never delays their answers. A copy offered while
// `capacity` are already waiting is refused (the caller counts it as dropped): a busy
// server sheds shadow work instead of queueing it without bound.
class ShadowRunner {
 public:
  using Job = std::function<void()>;  // must not throw

  explicit ShadowRunner(std::size_t capacity = 64);
  ~ShadowRunner();  // drops what is still waiting, lets the running job end, joins
  ShadowRunner(const ShadowRunner&) = delete;
  ShadowRunner& operator=(const ShadowRunner&) = delete;

  // Queues `job`; false (and `job` is dropped) when `capacity` jobs are already waiting.
  bool offer(Job job);
  // Whether the thread runs at idle priority (false where the kernel refused it: it then
  // runs at the lowest nice level instead).
  bool idle_priority() const { return idle_priority_; }

 private:
  void work();

  const std::size_t capacity_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  bool idle_priority_ = false;
  std::thread thread_;
};

}  // namespace mg::gateway
