#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace mg::gateway {

// Per-tenant caps on inference requests in flight, so one tenant cannot hold every
// worker of the server while others wait. The cap applies while more than one tenant has
// requests in flight: a tenant alone on the server may use all of it (a single-tenant
// deployment is never refused by its own concurrency). Thread-safe: the counts change
// under one mutex, held for a few instructions, so the tenant's count and the total are
// always read together (two atomics read apart made a lone tenant's own requests look like
// another tenant's).
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
    Slot(TenantConcurrency* owner, std::size_t* mine) : owner_(owner), mine_(mine) {}
    void release() {
      if (owner_ == nullptr) return;
      owner_->leave(*mine_);
      owner_ = nullptr;
    }
    TenantConcurrency* owner_;
    std::size_t* mine_;  // the tenant's count (under the owner's mutex)
  };

  // 0: no cap.
  void set_cap(std::size_t cap) { cap_ = cap; }
  std::size_t cap() const { return cap_; }
  // A slot, or nullopt when the tenant already holds `cap` while another tenant also has
  // requests in flight (the caller answers 429).
  std::optional<Slot> enter(const std::string& tenant);
  std::size_t in_flight(const std::string& tenant);

 private:
  void leave(std::size_t& mine);

  std::size_t cap_ = 0;
  std::mutex mutex_;
  // Counts are never removed (one per tenant), so a slot's pointer stays valid.
  std::unordered_map<std::string, std::unique_ptr<std::size_t>> by_tenant_;
  std::size_t total_ = 0;
};

}  // namespace mg::gateway
