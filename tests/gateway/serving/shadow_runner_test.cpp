#include "gateway/serving/shadow_runner.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

namespace mg::gateway {
namespace {

TEST(ShadowRunner, RunsJobsOnAThreadAtIdlePriority) {
  ShadowRunner runner;
  std::promise<int> policy;
  ASSERT_TRUE(runner.offer([&policy] { policy.set_value(sched_getscheduler(0)); }));
  EXPECT_EQ(policy.get_future().get(), SCHED_IDLE);
  EXPECT_TRUE(runner.idle_priority());
}

TEST(ShadowRunner, RefusesJobsPastItsCapacityInsteadOfQueueingThem) {
  ShadowRunner runner(3);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> started;
  ASSERT_TRUE(runner.offer([&started, released] {
    started.set_value();
    released.wait();
  }));
  started.get_future().wait();  // the thread is busy: what follows waits in the queue
  std::atomic<int> ran{0};
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(runner.offer([&ran] { ++ran; }));
  EXPECT_FALSE(runner.offer([&ran] { ++ran; })) << "a fourth waiting job was queued";
  release.set_value();
  for (int i = 0; i < 1000 && ran.load() < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(ran.load(), 3);
  EXPECT_TRUE(runner.offer([&ran] { ++ran; })) << "room again once the queue drained";
}

TEST(ShadowRunner, DropsWhatIsStillWaitingWhenDestroyed) {
  std::atomic<int> ran{0};
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::thread releaser;
  {
    ShadowRunner runner;
    std::promise<void> started;
    ASSERT_TRUE(runner.offer([&started, released] {
      started.set_value();
      released.wait();
    }));
    started.get_future().wait();
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(runner.offer([&ran] { ++ran; }));
    releaser = std::thread([&release] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      release.set_value();
    });
  }  // joins once the running job ends
  releaser.join();
  EXPECT_EQ(ran.load(), 0);
}

}  // namespace
}  // namespace mg::gateway
