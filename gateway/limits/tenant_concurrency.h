#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>

namespace mg::gateway {

// Per-tenant caps on inference requests in flight, so one tenant cannot hold every
// worker of the server while others wait. The cap applies while more than one tenant has
// requests in flight: a tenant alone on the server may use all of it (a single-tenant
// deployment is never refused by its own concurrency). Thread-safe; on the request path a
// shared lock to find the tenant's counter, then atomics only (leaving takes no lock).
class TenantConcurrency {
 public:
  // A request's place; leaving it (destruction) frees it. Movable, not copyable.
  class Slot {
   public:
    Slot(Slot&& other) noexcept : owner_(other.owner_), mine_(other.mine_) {
      other.owner_ = nullptr;
    }
    Slot& operator=(Slot&& other) noexcept {
      if (this != &other) {
        release();
        owner_ = other.owner_;
        mine_ = other.mine_;
        other.owner_ = nullptr;
      }
      return *this;
    }
    ~Slot() { release(); }

   private:
    friend class TenantConcurrency;
    Slot(TenantConcurrency* owner, std::atomic<std::size_t>* mine) : owner_(owner), mine_(mine) {}
    void release() {
      if (owner_ == nullptr) return;
      mine_->fetch_sub(1, std::memory_order_relaxed);
      owner_->total_.fetch_sub(1, std::memory_order_relaxed);
      owner_ = nullptr;
    }
    TenantConcurrency* owner_;
    std::atomic<std::size_t>* mine_;
  };

  // 0: no cap.
  void set_cap(std::size_t cap) { cap_ = cap; }
  std::size_t cap() const { return cap_; }
  // A slot, or nullopt when the tenant already holds `cap` while another tenant also has
  // requests in flight (the caller answers 429).
  std::optional<Slot> enter(const std::string& tenant);
  std::size_t in_flight(const std::string& tenant);

 private:
  std::atomic<std::size_t>& counter_of(const std::string& tenant);

  std::size_t cap_ = 0;
  std::shared_mutex mutex_;  // guards the map; counters are never removed (one per tenant)
  std::unordered_map<std::string, std::unique_ptr<std::atomic<std::size_t>>> by_tenant_;
  std::atomic<std::size_t> total_{0};
};

}  // namespace mg::gateway
