#pragma once

#include <chrono>
#include <functional>
#include <memory>

namespace mg {

// The event loop a thread runs (a socket thread of the HTTPS server), for code that waits
// on a file descriptor without blocking that thread: every callback runs later on the same
// thread. Use a loop from its own thread only.
class EventLoop {
 public:
  virtual ~EventLoop() = default;

  // Runs `task` once the handlers that are ready now have run.
  virtual void post(std::function<void()> task) = 0;
  // Calls `ready` once, when `fd` can be read (written). One wait per fd and direction.
  virtual void when_readable(int fd, std::function<void()> ready) = 0;
  virtual void when_writable(int fd, std::function<void()> ready) = 0;
  // Calls `task` once after `delay`.
  virtual void after(std::chrono::milliseconds delay, std::function<void()> task) = 0;
  // Drops the waits on `fd` (their callbacks are never called); before `fd` is closed.
  virtual void forget(int fd) = 0;
  // Something that lives as long as this loop, one per `owner` (a client's connection of
  // this thread): destroyed with the loop, before its waits are dropped.
  virtual std::shared_ptr<void>& local(const void* owner) = 0;

  // The loop of the calling thread; null on a thread that runs none.
  static EventLoop* current();
  static void set_current(EventLoop* loop);
};

}  // namespace mg
