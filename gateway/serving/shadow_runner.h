#pragma once

#include <atomic>
#include <boost/lockfree/queue.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
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
  // Takes no lock: the runner's thread, at idle priority, may be preempted at any moment,
  // and a caller's thread must never wait for it to be scheduled again.
  bool offer(Job job);
  // Whether the thread runs at idle priority (false where the kernel refused it: it then
  // runs at the lowest nice level instead).
  bool idle_priority() const { return idle_priority_; }

 private:
  void work();

  boost::lockfree::queue<Job*, boost::lockfree::fixed_sized<true>> queue_;
  std::atomic<uint32_t> queued_{0};  // jobs pushed and not yet taken (+1 to stop)
  std::atomic<bool> stopping_{false};
  bool idle_priority_ = false;
  std::thread thread_;
};

}  // namespace mg::gateway
