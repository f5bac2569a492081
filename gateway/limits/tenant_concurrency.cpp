#include "gateway/limits/tenant_concurrency.h"

#include <mutex>

namespace mg::gateway {

std::atomic<std::size_t>& TenantConcurrency::counter_of(const std::string& tenant) {
  {
    std::shared_lock lock(mutex_);
    if (auto it = by_tenant_.find(tenant); it != by_tenant_.end()) return *it->second;
  }
  std::unique_lock lock(mutex_);
  auto& counter = by_tenant_[tenant];
  if (!counter) counter = std::make_unique<std::atomic<std::size_t>>(0);
  return *counter;
}

std::optional<TenantConcurrency::Slot> TenantConcurrency::enter(const std::string& tenant) {
  std::atomic<std::size_t>& mine = counter_of(tenant);
  const std::size_t held = mine.fetch_add(1, std::memory_order_relaxed) + 1;
  const std::size_t total = total_.fetch_add(1, std::memory_order_relaxed) + 1;
  // Over the cap only while someone else also has requests in flight (total counts this
  // request and the tenant's others: anything beyond is another tenant's).
  if (cap_ > 0 && held > cap_ && total > held) {
    mine.fetch_sub(1, std::memory_order_relaxed);
    total_.fetch_sub(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  return Slot(this, &mine);
}

std::size_t TenantConcurrency::in_flight(const std::string& tenant) {
  return counter_of(tenant).load(std::memory_order_relaxed);
}

}  // namespace mg::gateway
