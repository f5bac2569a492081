#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace mg::gateway {

// Open connections per client address, capped, for a listener (HTTPS or gRPC): a client's
// flood of idle connections cannot lock others out. Thread-safe.
class AddressCounter {
 public:
  explicit AddressCounter(std::size_t cap) : cap_(cap) {}  // 0: no cap, nothing counted

  bool capped() const { return cap_ > 0; }
  // Counts a connection from `address`; false (not counted) when it is at its cap.
  bool admit(const std::string& address) {
    if (cap_ == 0) return true;
    std::lock_guard lock(mutex_);
    std::size_t& open = open_[address];
    if (open >= cap_) return false;
    ++open;
    return true;
  }
  // A connection admitted from `address` closed.
  void release(const std::string& address) {
    if (cap_ == 0) return;
    std::lock_guard lock(mutex_);
    auto it = open_.find(address);
    if (it != open_.end() && --it->second == 0) open_.erase(it);
  }

 private:
  std::size_t cap_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::size_t> open_;
};

}  // namespace mg::gateway
