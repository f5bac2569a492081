#include "gateway/serving/shadow_runner.h"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

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

ShadowRunner::ShadowRunner(std::size_t capacity) : capacity_(capacity) {
  std::promise<bool> lowered;
  auto lowered_result = lowered.get_future();
  thread_ = std::thread([this, &lowered] {
    lowered.set_value(lower_this_thread());
    work();
  });
  idle_priority_ = lowered_result.get();
}

ShadowRunner::~ShadowRunner() {
  std::deque<Job> dropped;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    dropped.swap(queue_);
  }
  ready_.notify_all();
  thread_.join();
}

bool ShadowRunner::offer(Job job) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() >= capacity_) return false;
    queue_.push_back(std::move(job));
  }
  ready_.notify_one();
  return true;
}

void ShadowRunner::work() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job();
  }
}

}  // namespace mg::gateway
