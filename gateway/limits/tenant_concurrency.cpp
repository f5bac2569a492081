#include "limits/tenant_concurrency.h"

namespace mg::gateway {

TenantConcurrency::Slot::~Slot() {
  if (owner_ != nullptr) owner_->leave(tenant_);
}

std::optional<TenantConcurrency::Slot> TenantConcurrency::enter(const std::string& tenant) {
  std::lock_guard lock(mutex_);
  std::size_t& mine = by_tenant_[tenant];
  if (cap_ > 0 && mine >= cap_ && total_ > mine) {
    if (mine == 0) by_tenant_.erase(tenant);
    return std::nullopt;
  }
  ++mine;
  ++total_;
  return Slot(this, tenant);
}

void TenantConcurrency::leave(const std::string& tenant) {
  std::lock_guard lock(mutex_);
  auto it = by_tenant_.find(tenant);
  if (it == by_tenant_.end()) return;
  --total_;
  if (--it->second == 0) by_tenant_.erase(it);
}

std::size_t TenantConcurrency::in_flight(const std::string& tenant) {
  std::lock_guard lock(mutex_);
  auto it = by_tenant_.find(tenant);
  return it == by_tenant_.end() ? 0 : it->second;
}

}  // namespace mg::gateway
