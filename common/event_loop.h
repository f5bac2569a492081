#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>

namespace mg {

// The event loop a thread runs (a socket thread of the HTTPS server), for code that waits
// on a file descriptor without blocking that thread: every callback runs later on the same
// thread. Use a loop from its own thread only, except post() (see LoopPoster).
class EventLoop {
 public:
  virtual ~EventLoop() = default;

  // Runs `task` once the handlers that are ready now have run. Callable from any thread
  // while the loop exists.
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

// Posts to one loop from any thread (a batcher thread handing a result back to the socket
// thread that took the request), also after the loop is gone: such late tasks are kept,
// never run nor destroyed — what they hold (a connection) belonged to the loop's I/O
// context, and destroying it afterwards would touch freed memory. That happens only when a
// server stops before its requests drained.
class LoopPoster {
 public:
  // The poster of the calling thread's loop, one per loop; null on a thread that runs none.
  static std::shared_ptr<LoopPoster> of_current();
  void post(std::function<void()> task);

 private:
  friend struct LoopPosterOwner;
  std::mutex mutex_;
  EventLoop* loop_ = nullptr;  // null once the loop is gone
};

}  // namespace mg
