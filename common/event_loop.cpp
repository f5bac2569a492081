#include "common/event_loop.h"

#include <vector>

namespace mg {
namespace {
thread_local EventLoop* current_loop = nullptr;
}  // namespace

EventLoop* EventLoop::current() { return current_loop; }
void EventLoop::set_current(EventLoop* loop) { current_loop = loop; }

// Held by the loop (EventLoop::local): tells the poster when the loop goes.
struct LoopPosterOwner {
  std::shared_ptr<LoopPoster> poster = std::make_shared<LoopPoster>();
  ~LoopPosterOwner() {
    std::lock_guard lock(poster->mutex_);
    poster->loop_ = nullptr;
  }
};

std::shared_ptr<LoopPoster> LoopPoster::of_current() {
  EventLoop* loop = EventLoop::current();
  if (loop == nullptr) return nullptr;
  static const char key = 0;
  std::shared_ptr<void>& slot = loop->local(&key);
  if (!slot) {
    auto owner = std::make_shared<LoopPosterOwner>();
    owner->poster->loop_ = loop;
    slot = owner;
  }
  return static_cast<LoopPosterOwner*>(slot.get())->poster;
}

void LoopPoster::post(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    if (loop_ != nullptr) return loop_->post(std::move(task));
  }
  // Kept for the rest of the process, reachable (not a leak to a leak checker).
  static std::mutex kept_mutex;
  static auto* kept = new std::vector<std::function<void()>>;
  std::lock_guard lock(kept_mutex);
  kept->push_back(std::move(task));
}

}  // namespace mg
