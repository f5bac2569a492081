#pragma once

#include <atomic>
#include <cstddef>

namespace mg {

// The calling thread's shard among `Shards`, for counters and buffers written by every
// request: threads take shards in the order they first ask, so the few socket threads
// that write nearly everything each get their own (threads beyond Shards share) and never
// pass a shard's cache lines between cores.
template <std::size_t Shards>
std::size_t thread_shard() {
  static std::atomic<std::size_t> next{0};
  thread_local const std::size_t shard = next.fetch_add(1, std::memory_order_relaxed) % Shards;
  return shard;
}

}  // namespace mg
