#include "common/event_loop.h"

namespace mg {
namespace {
thread_local EventLoop* current_loop = nullptr;
}  // namespace

EventLoop* EventLoop::current() { return current_loop; }
void EventLoop::set_current(EventLoop* loop) { current_loop = loop; }

}  // namespace mg
