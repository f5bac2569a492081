#pragma once

#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace mg::gateway {

// Per-tenant caps on inference requests in flight, so one tenant cannot hold every
// worker of the server while others wait. The cap applies while more than one tenant has
// requests in flight: a tenant alone on the server may use all of it (a single-tenant
// deployment is never refused by its own concurrency). Thread-safe.
class TenantConcurrency {
 public:
  // A request's place; leaving it (destruction) frees it. Movable, not copyable.
  class Slot {
   public:
    Slot(Slot&& other) noexcept : owner_(other.owner_), tenant_(std::move(other.tenant_)) {
      other.owner_ = nullptr;
    }
    Slot& operator=(Slot&& other) noexcept {
      if (this != &other) {
        if (owner_ != nullptr) owner_->leave(tenant_);
        owner_ = other.owner_;
        tenant_ = std::move(other.tenant_);
        other.owner_ = nullptr;
      }
      return *this;
    }
    ~Slot();

   private:
    friend class TenantConcurrency;
    Slot(TenantConcurrency* owner, std::string tenant)
        : owner_(owner), tenant_(std::move(tenant)) {}
    TenantConcurrency* owner_;
    std::string tenant_;
  };

  // 0: no cap.
  void set_cap(std::size_t cap) { cap_ = cap; }
  std::size_t cap() const { return cap_; }
  // A slot, or nullopt when the tenant already holds `cap` while another tenant also has
  // requests in flight (the caller answers 429).
  std::optional<Slot> enter(const std::string& tenant);
  std::size_t in_flight(const std::string& tenant);

 private:
  void leave(const std::string& tenant);

  std::size_t cap_ = 0;
  std::mutex mutex_;
  std::unordered_map<std::string, std::size_t> by_tenant_;  // tenants with requests in flight
  std::size_t total_ = 0;
};

}  // namespace mg::gateway
