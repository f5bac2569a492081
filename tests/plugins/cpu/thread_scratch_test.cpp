// The convolution kernels' per-thread scratch: aligned, reused, grown, one per thread, and
// resident when handed out (its page faults are not taken one by one inside a batch).
#include "plugins/cpu/kernels/thread_scratch.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

namespace mg::cpu {
namespace {

std::uintptr_t address(const std::byte* p) { return reinterpret_cast<std::uintptr_t>(p); }

TEST(ThreadScratch, AlignedReusedAndGrown) {
  std::byte* small = thread_scratch(1000);
  ASSERT_NE(small, nullptr);
  EXPECT_EQ(address(small) % 64, 0u);
  std::memset(small, 1, 1000);
  EXPECT_EQ(thread_scratch(500), small);  // what fits is the same memory
  EXPECT_EQ(thread_scratch(0), small);
  constexpr std::size_t kLarge = std::size_t{3} << 20;
  std::byte* large = thread_scratch(kLarge);
  EXPECT_EQ(address(large) % 64, 0u);
  std::memset(large, 2, kLarge);
  EXPECT_EQ(thread_scratch(1000), large);  // kept at its largest
}

TEST(ThreadScratch, EachThreadHasItsOwn) {
  std::byte* mine = thread_scratch(4096);
  std::memset(mine, 3, 4096);
  std::byte* theirs = nullptr;
  std::thread([&] {
    theirs = thread_scratch(4096);
    std::memset(theirs, 4, 4096);
  }).join();
  EXPECT_NE(mine, theirs);
  EXPECT_EQ(mine[4095], std::byte{3});
}

// mincore: every page is in memory before anything wrote to it. (The vector this replaced
// was resident too, because resizing zero-filled it page fault by page fault; what changed
// is that one system call now faults them all.)
TEST(ThreadScratch, ResidentWhenHandedOut) {
  constexpr std::size_t kBytes = 7'390'272;  // a batched Winograd slice's (seed CNN)
  {
    void* probe = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(probe, MAP_FAILED);
    const bool populates = madvise(probe, 4096, MADV_POPULATE_WRITE) == 0;
    munmap(probe, 4096);
    if (!populates) GTEST_SKIP() << "this kernel has no MADV_POPULATE_WRITE (Linux < 5.14)";
  }
  std::thread([&] {
    std::byte* scratch = thread_scratch(kBytes);
    const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    std::vector<unsigned char> resident((kBytes + page - 1) / page);
    ASSERT_EQ(mincore(scratch, kBytes, resident.data()), 0);
    std::size_t missing = 0;
    for (unsigned char r : resident) missing += (r & 1) ? 0 : 1;
    EXPECT_EQ(missing, 0u) << "of " << resident.size() << " pages";
  }).join();
}

}  // namespace
}  // namespace mg::cpu
