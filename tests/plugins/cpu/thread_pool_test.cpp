// The kernels' thread pool: every index of every job runs exactly once, whoever claims the
// pieces — workers spinning, workers asleep and woken late (a pause between jobs longer
// than their spin), and jobs of every size one after another. In the ThreadSanitizer run.
#include "plugins/cpu/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace mg::cpu {
namespace {

void expect_each_index_once(ThreadPool& pool, int64_t n, int64_t grain) {
  std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
  pool.parallel_for(n, grain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) hits[static_cast<std::size_t>(i)].fetch_add(1);
  });
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<std::size_t>(i)].load(), 1) << i;
}

TEST(ThreadPool, EveryIndexRunsOnceWhetherWorkersSpinOrSleep) {
  for (int threads : {2, 3, 4}) {
    SCOPED_TRACE(threads);
    ThreadPool pool(threads);
    for (int round = 0; round < 200; ++round) {
      expect_each_index_once(pool, 1 + round % 37, 1);  // tiny jobs back to back
      expect_each_index_once(pool, 4096, 64 + round);   // larger ones
      if (round % 50 == 0) {  // long enough for the workers to stop spinning and sleep
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    }
  }
}

}  // namespace
}  // namespace mg::cpu
