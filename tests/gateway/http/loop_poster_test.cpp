// LoopPoster: a batcher thread hands a result back to the socket thread that took the
// request. Tasks posted from another thread run on the loop's thread; once the loop is
// gone (a server stopped before its requests drained) they are kept, neither run nor
// destroyed, since what they hold may belong to the loop's I/O context.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <thread>

#include "common/event_loop.h"
#include "gateway/http/asio_event_loop.h"

namespace mg::gateway {
namespace {

TEST(LoopPoster, TasksFromOtherThreadsRunOnTheLoopsThread) {
  boost::asio::io_context context;
  auto loop = make_event_loop(context);
  EventLoop::set_current(loop.get());
  std::shared_ptr<LoopPoster> poster = LoopPoster::of_current();
  ASSERT_NE(poster, nullptr);
  EXPECT_EQ(LoopPoster::of_current(), poster);  // one per loop
  std::thread::id ran_on;
  std::thread other([&] { poster->post([&] { ran_on = std::this_thread::get_id(); }); });
  other.join();
  context.run();
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  EventLoop::set_current(nullptr);
  EXPECT_EQ(LoopPoster::of_current(), nullptr);  // a thread without a loop has none
}

TEST(LoopPoster, ATaskPostedAfterTheLoopIsGoneIsKeptNotRunNorDestroyed) {
  std::shared_ptr<LoopPoster> poster;
  {
    boost::asio::io_context context;
    auto loop = make_event_loop(context);
    EventLoop::set_current(loop.get());
    poster = LoopPoster::of_current();
    EventLoop::set_current(nullptr);
  }
  auto held = std::make_shared<int>(7);  // what a task holds (a connection, in the server)
  std::weak_ptr<int> watch = held;
  bool ran = false;
  std::thread other([&, held = std::move(held)]() mutable {
    poster->post([&ran, held = std::move(held)] { ran = *held == 7; });
  });
  other.join();
  EXPECT_FALSE(ran);
  EXPECT_FALSE(watch.expired());
}

}  // namespace
}  // namespace mg::gateway
