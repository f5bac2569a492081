#include "gateway/serving/shadow_runner.h"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <future>

#include "common/log.h"

namespace mg::gateway {
namespace {

// Lowers the calling thread to SCHED_IDLE (no privilege needed to lower); nice 19 when the
// kernel refuses. Returns whether SCHED_IDLE took.
bool lower_this_thread() {
  sched_param param{};
  param.sched_priority = 0;
  if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &param) == 0) return true;
  // setpriority on a thread id changes only that thread on Linux.
  if (setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 19) != 0) {
    log(LogLevel::kWarn,
        "the shadow thread runs at normal priority: the kernel refused both "
        "SCHED_IDLE and nice 19");
  }
  return false;
}

}  // namespace

ShadowRunner::ShadowRunner(std::size_t capacity) : queue_(capacity) {
  std::promise<bool> lowered;
  auto lowered_result = lowered.get_future();
  thread_ = std::thread([this, &lowered] {
    lowered.set_value(lower_this_thread());
    work();
  });
  idle_priority_ = lowered_result.get();
}

ShadowRunner::~ShadowRunner() {
  stopping_.store(true);
  queued_.fetch_add(1, std::memory_order_release);
  queued_.notify_one();
  thread_.join();
  Job* job = nullptr;
  while (queue_.pop(job)) delete job;  // dropped, never run
}

bool ShadowRunner::offer(Job job) {
  if (stopping_.load(std::memory_order_relaxed)) return false;
  auto* held = new Job(std::move(job));
  if (!queue_.bounded_push(held)) {
    delete held;
    return false;
  }
  // notify_one makes a system call only when the thread sleeps (it counts its waiters),
  // not when it is busy with an earlier copy, as a semaphore's release would.
  queued_.fetch_add(1, std::memory_order_release);
  queued_.notify_one();
  return true;
}

void ShadowRunner::work() {
  for (;;) {
    queued_.wait(0, std::memory_order_acquire);
    if (stopping_.load()) return;
    queued_.fetch_sub(1, std::memory_order_relaxed);
    Job* job = nullptr;
    if (!queue_.pop(job)) continue;  // pushed before counted: not empty here
    (*job)();
    delete job;
  }
}

}  // namespace mg::gateway
