#include "gateway/limits/tenant_concurrency.h"

namespace mg::gateway {

std::optional<TenantConcurrency::Slot> TenantConcurrency::enter(const std::string& tenant) {
  std::lock_guard lock(mutex_);
  auto& counter = by_tenant_[tenant];
  if (!counter) counter = std::make_unique<std::size_t>(0);
  std::size_t& mine = *counter;
  // Over the cap only while someone else also has requests in flight.
  if (cap_ > 0 && mine >= cap_ && total_ > mine) return std::nullopt;
  ++mine;
  ++total_;
  return Slot(this, &mine);
}

void TenantConcurrency::leave(std::size_t& mine) {
  std::lock_guard lock(mutex_);
  --mine;
  --total_;
}

std::size_t TenantConcurrency::in_flight(const std::string& tenant) {
  std::lock_guard lock(mutex_);
  const auto it = by_tenant_.find(tenant);
  return it == by_tenant_.end() ? 0 : *it->second;
}

}  // namespace mg::gateway
