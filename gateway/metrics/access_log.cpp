#include "gateway/metrics/access_log.h"

#include <chrono>
#include <stdexcept>

#include "common/log.h"
#include "common/thread_shard.h"

namespace mg::gateway {

std::unique_ptr<AccessLog> AccessLog::open(const std::string& where) {
  if (where == "off" || where.empty()) return nullptr;
  if (where == "stdout") return std::make_unique<AccessLog>(stdout, false);
  if (where == "stderr") return std::make_unique<AccessLog>(stderr, false);
  std::FILE* file = std::fopen(where.c_str(), "a");
  if (file == nullptr) throw std::runtime_error("cannot open the access log " + where);
  return std::make_unique<AccessLog>(file, true);
}

AccessLog::AccessLog(std::FILE* out, bool owned, std::size_t capacity)
    : out_(out),
      owned_(owned),
      shard_capacity_(capacity / kShards),
      writer_([this] { flush_loop(); }) {}

AccessLog::~AccessLog() {
  {
    std::lock_guard lock(stop_mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  writer_.join();
  if (owned_) std::fclose(out_);
}

void AccessLog::write(std::string_view line) {
  Shard& shard = shards_[thread_shard<kShards>()];
  {
    std::lock_guard lock(shard.mutex);
    if (shard.pending.size() + line.size() + 1 <= shard_capacity_) {
      shard.pending += line;
      shard.pending += '\n';
      return;
    }
  }
  ++dropped_;
  if (on_drop_) on_drop_();
}

std::size_t AccessLog::pending_bytes() {
  std::size_t total = 0;
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    total += shard.pending.size();
  }
  return total;
}

void AccessLog::flush_loop() {
  // Each shard's buffer trades places with one of these: requests append to one while this
  // thread writes the other, and each keeps its capacity (no regrowth from empty every
  // 200 ms), up to 1 MiB.
  std::array<std::string, kShards> batches;
  for (bool last = false; !last;) {
    {
      std::unique_lock lock(stop_mutex_);
      wake_.wait_for(lock, std::chrono::milliseconds(200), [this] { return stopping_; });
      last = stopping_;
    }
    bool wrote = false;
    for (std::size_t i = 0; i < kShards; ++i) {
      std::string& batch = batches[i];
      if (batch.capacity() > (1u << 20)) batch = std::string();
      batch.clear();
      {
        std::lock_guard lock(shards_[i].mutex);
        batch.swap(shards_[i].pending);
      }
      if (batch.empty()) continue;
      std::fwrite(batch.data(), 1, batch.size(), out_);
      wrote = true;
    }
    if (wrote) std::fflush(out_);
    if (const uint64_t dropped = dropped_.load(); dropped != reported_) {
      log(LogLevel::kWarn, "access log: " + std::to_string(dropped - reported_) +
                               " lines dropped while its output was stalled");
      reported_ = dropped;
    }
  }
}

}  // namespace mg::gateway
