// Registry: tenants and API keys. The registry stores what the auth component hands it
// (key id, keyed hash, sealed secret) and never sees a key's secret in the clear.
#include <boost/json.hpp>
#include <cmath>

#include "registry/names.h"
#include "registry/registry.h"
#include "registry/registry_error.h"

namespace mg::registry {
namespace {

using Code = RegistryError::Code;

bool valid_key_id(std::string_view id) {
  if (id.size() != 12) return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

std::span<const std::byte> bytes(const std::string& s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

}  // namespace

std::optional<TenantRecord> Registry::find_tenant(const std::string& name) const {
  const auto& tenants = cached_catalog().tenants;
  auto it = tenants.find(name);
  if (it == tenants.end()) return std::nullopt;
  return it->second;
}

std::vector<TenantRecord> Registry::list_tenants() const {
  std::vector<TenantRecord> tenants;
  for (const auto& [name, tenant] : cached_catalog().tenants) tenants.push_back(tenant);
  std::sort(tenants.begin(), tenants.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return tenants;
}

std::vector<KeyRecord> Registry::list_keys(const std::string& tenant) const {
  std::vector<KeyRecord> keys;
  for (const auto& [id, key] : cached_catalog().keys) {
    if (tenant.empty() || key.tenant == tenant) keys.push_back(key);
  }
  std::sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) {
    return a.created_at != b.created_at ? a.created_at < b.created_at : a.id < b.id;
  });
  return keys;
}

TenantRecord Registry::create_tenant(const std::string& name, int64_t quota_limit,
                                     QuotaPeriod period, const std::string& actor) {
  validate_name("tenant", name);
  if (quota_limit < 0) {
    throw RegistryError(Code::kInvalidArgument, "tenant '" + name + "': quota must be >= 0");
  }
  std::lock_guard lock(write_mutex_);
  {
    sql::Transaction transaction(*db_);
    auto existing = db_->prepare("SELECT 1 FROM tenants WHERE name = ?");
    existing.bind(1, name);
    if (existing.step()) {
      throw RegistryError(Code::kAlreadyExists, "tenant '" + name + "' already exists");
    }
    db_->prepare(
           "INSERT INTO tenants (name, quota_limit, quota_period, created_at) VALUES (?,?,?,?)")
        .bind(1, name)
        .bind(2, quota_limit)
        .bind(3, period_name(period))
        .bind(4, now())
        .run();
    append_audit(actor, "tenant.create", name,
                 boost::json::serialize(boost::json::object{
                     {"quota", quota_limit}, {"period", std::string(period_name(period))}}));
    transaction.commit();
  }
  reload_catalog();
  return *find_tenant(name);
}

void Registry::set_tenant_quota(const std::string& name, int64_t quota_limit, QuotaPeriod period,
                                const std::string& actor) {
  validate_name("tenant", name);
  if (quota_limit < 0) {
    throw RegistryError(Code::kInvalidArgument, "tenant '" + name + "': quota must be >= 0");
  }
  std::lock_guard lock(write_mutex_);
  {
    sql::Transaction transaction(*db_);
    db_->prepare("UPDATE tenants SET quota_limit = ?, quota_period = ? WHERE name = ?")
        .bind(1, quota_limit)
        .bind(2, period_name(period))
        .bind(3, name)
        .run();
    if (db_->changes() == 0) throw RegistryError(Code::kNotFound, "no tenant '" + name + "'");
    append_audit(actor, "tenant.quota", name,
                 boost::json::serialize(boost::json::object{
                     {"quota", quota_limit}, {"period", std::string(period_name(period))}}));
    transaction.commit();
  }
  reload_catalog();
}

KeyRecord Registry::add_key(const KeyRecord& key, const std::string& actor) {
  if (!valid_key_id(key.id)) {
    throw RegistryError(Code::kInvalidArgument, "a key id is 12 characters of a-z 0-9");
  }
  validate_name("tenant", key.tenant);
  if (key.scopes == 0 || !scopes_from_text(scopes_text(key.scopes))) {
    throw RegistryError(Code::kInvalidArgument, "a key needs at least one scope (infer, admin)");
  }
  if (key.models.empty() || key.models.size() > 256) {
    throw RegistryError(Code::kInvalidArgument, "the model glob must be 1-256 characters");
  }
  if (!std::isfinite(key.rate) || key.rate < 0 || key.burst < 0) {
    throw RegistryError(Code::kInvalidArgument, "rate and burst must be >= 0");
  }
  if (key.secret_hash.empty() || key.secret_sealed.empty()) {
    throw RegistryError(Code::kInvalidArgument, "a key needs its hash and sealed secret");
  }
  std::lock_guard lock(write_mutex_);
  {
    sql::Transaction transaction(*db_);
    auto tenant = db_->prepare("SELECT id FROM tenants WHERE name = ?");
    tenant.bind(1, key.tenant);
    if (!tenant.step()) throw RegistryError(Code::kNotFound, "no tenant '" + key.tenant + "'");
    const int64_t tenant_id = tenant.column_int(0);
    auto existing = db_->prepare("SELECT 1 FROM api_keys WHERE id = ?");
    existing.bind(1, key.id);
    if (existing.step()) {
      throw RegistryError(Code::kAlreadyExists, "key '" + key.id + "' already exists");
    }
    auto insert = db_->prepare(
        "INSERT INTO api_keys (id, tenant_id, scopes, models, rate, burst, signed_only, "
        "expires_at, secret_hash, secret_sealed, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)");
    insert.bind(1, key.id)
        .bind(2, tenant_id)
        .bind(3, scopes_text(key.scopes))
        .bind(4, key.models)
        .bind_real(5, key.rate)
        .bind(6, key.burst)
        .bind(7, int64_t{key.signed_only})
        .bind(8, key.expires_at)
        .bind_blob(9, bytes(key.secret_hash))
        .bind_blob(10, bytes(key.secret_sealed))
        .bind(11, now())
        .run();
    append_audit(actor, "key.create", key.id,
                 boost::json::serialize(boost::json::object{{"tenant", key.tenant},
                                                            {"scopes", scopes_text(key.scopes)},
                                                            {"models", key.models},
                                                            {"rate", key.rate},
                                                            {"burst", key.burst},
                                                            {"signed_only", key.signed_only},
                                                            {"expires_at", key.expires_at}}));
    transaction.commit();
  }
  reload_catalog();
  return *cached_catalog().find_key(key.id);
}

void Registry::replace_key_secrets(const std::vector<KeyRecord>& keys, const std::string& actor) {
  std::lock_guard lock(write_mutex_);
  {
    sql::Transaction transaction(*db_);
    auto update =
        db_->prepare("UPDATE api_keys SET secret_hash = ?, secret_sealed = ? WHERE id = ?");
    for (const auto& key : keys) {
      update.bind_blob(1, bytes(key.secret_hash))
          .bind_blob(2, bytes(key.secret_sealed))
          .bind(3, key.id);
      update.run();
      if (db_->changes() == 0) throw RegistryError(Code::kNotFound, "no key '" + key.id + "'");
      update.reset();
    }
    append_audit(actor, "keys.reseal", "*",
                 boost::json::serialize(boost::json::object{{"keys", keys.size()}}));
    transaction.commit();
  }
  reload_catalog();
}

void Registry::revoke_key(const std::string& id, const std::string& actor) {
  if (!valid_key_id(id)) throw RegistryError(Code::kNotFound, "no key '" + id.substr(0, 64) + "'");
  std::lock_guard lock(write_mutex_);
  {
    sql::Transaction transaction(*db_);
    db_->prepare("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at = 0")
        .bind(1, now())
        .bind(2, id)
        .run();
    if (db_->changes() == 0) {
      auto existing = db_->prepare("SELECT 1 FROM api_keys WHERE id = ?");
      existing.bind(1, id);
      if (!existing.step()) throw RegistryError(Code::kNotFound, "no key '" + id + "'");
      return;  // already revoked: nothing changes, nothing to audit
    }
    append_audit(actor, "key.revoke", id, "{}");
    transaction.commit();
  }
  reload_catalog();
}

void Registry::load_tenants_and_keys(Catalog& catalog) {
  auto tenants =
      db_->prepare("SELECT id, name, quota_limit, quota_period, created_at FROM tenants");
  while (tenants.step()) {
    TenantRecord t{tenants.column_int(0), tenants.column_text(1), tenants.column_int(2),
                   period_from_name(tenants.column_text(3)).value_or(QuotaPeriod::kMonth),
                   tenants.column_int(4)};
    catalog.tenants[t.name] = std::move(t);
  }
  auto keys = db_->prepare(
      "SELECT k.id, t.name, k.scopes, k.models, k.rate, k.burst, k.signed_only, k.expires_at, "
      "k.secret_hash, k.secret_sealed, k.created_at, k.revoked_at FROM api_keys k "
      "JOIN tenants t ON t.id = k.tenant_id");
  while (keys.step()) {
    KeyRecord k;
    k.id = keys.column_text(0);
    k.tenant = keys.column_text(1);
    k.scopes = scopes_from_text(keys.column_text(2)).value_or(0);  // unknown → no access
    k.models = keys.column_text(3);
    k.rate = keys.column_real(4);
    k.burst = keys.column_int(5);
    k.signed_only = keys.column_int(6) != 0;
    k.expires_at = keys.column_int(7);
    k.secret_hash = keys.column_blob(8);
    k.secret_sealed = keys.column_blob(9);
    k.created_at = keys.column_int(10);
    k.revoked_at = keys.column_int(11);
    catalog.keys[k.id] = std::move(k);
  }
}

}  // namespace mg::registry
