#include "gateway/metrics/access_log.h"

#include <chrono>
#include <stdexcept>

#include "common/log.h"

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
    : out_(out), owned_(owned), capacity_(capacity), writer_([this] { flush_loop(); }) {}

AccessLog::~AccessLog() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  writer_.join();
  if (owned_) std::fclose(out_);
}

void AccessLog::write(std::string_view line) {
  {
    std::lock_guard lock(mutex_);
    if (pending_.size() + line.size() + 1 <= capacity_) {
      pending_ += line;
      pending_ += '\n';
      return;
    }
  }
  ++dropped_;
  if (on_drop_) on_drop_();
}

std::size_t AccessLog::pending_bytes() {
  std::lock_guard lock(mutex_);
  return pending_.size();
}

void AccessLog::flush_loop() {
  // Two buffers trade places: requests append to one while this thread writes the other,
  // and each keeps its capacity (no regrowth from empty every 200 ms), up to 1 MiB.
  std::string batch;
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait_for(lock, std::chrono::milliseconds(200), [this] { return stopping_; });
    if (batch.capacity() > (1u << 20)) batch = std::string();
    batch.clear();
    batch.swap(pending_);
    const bool last = stopping_;
    lock.unlock();
    if (!batch.empty()) {
      std::fwrite(batch.data(), 1, batch.size(), out_);
      std::fflush(out_);
    }
    if (const uint64_t dropped = dropped_.load(); dropped != reported_) {
      log(LogLevel::kWarn, "access log: " + std::to_string(dropped - reported_) +
                               " lines dropped while its output was stalled");
      reported_ = dropped;
    }
    if (last) return;
    lock.lock();
  }
}

}  // namespace mg::gateway
