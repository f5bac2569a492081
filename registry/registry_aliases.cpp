// Registry: aliases — plain (one version) and weighted (a canary split among versions).
#include <boost/json.hpp>
#include <set>

#include "registry/names.h"
#include "registry/registry.h"
#include "registry/registry_error.h"

namespace mg::registry {
namespace {
using Code = RegistryError::Code;
}  // namespace

void Registry::set_alias(const std::string& model, const std::string& alias, int64_t version,
                         const std::string& actor) {
  set_alias_split(model, alias, {AliasWeight{version, 1}}, false, actor);
}

void Registry::set_alias_split(const std::string& model, const std::string& alias,
                               const std::vector<AliasWeight>& versions, bool sticky,
                               const std::string& actor) {
  validate_alias(alias);
  if (versions.empty() || versions.size() > kMaxSplitVersions) {
    throw RegistryError(
        Code::kInvalidArgument,
        "an alias points at 1 to " + std::to_string(kMaxSplitVersions) + " versions");
  }
  std::set<int64_t> seen;
  for (const AliasWeight& v : versions) {
    if (v.weight == 0 || v.weight > 1'000'000) {
      throw RegistryError(Code::kInvalidArgument,
                          "a version's weight is a whole number from 1 to 1000000");
    }
    if (!seen.insert(v.version).second) {
      throw RegistryError(Code::kInvalidArgument,
                          "version " + std::to_string(v.version) + " is named twice");
    }
  }
  const bool split = versions.size() > 1;
  std::lock_guard lock(write_mutex_);
  {
    sql::Transaction transaction(*db_);
    int64_t id = model_id(model);
    for (const AliasWeight& v : versions) {
      if (stored_state(id, model, v.version) == VersionState::kRetired) {
        throw RegistryError(Code::kConflict,
                            "version " + model + "/" + std::to_string(v.version) + " is retired");
      }
    }
    auto previous = db_->prepare("SELECT version FROM aliases WHERE model_id = ? AND alias = ?");
    previous.bind(1, id).bind(2, alias);
    boost::json::object details{{"version", versions.front().version}};
    if (previous.step()) details["previous"] = previous.column_int(0);
    previous.reset();
    db_->prepare("DELETE FROM alias_weights WHERE model_id = ? AND alias = ?")
        .bind(1, id)
        .bind(2, alias)
        .run();
    db_->prepare(
           "INSERT INTO aliases (model_id, alias, version, updated_at, sticky) VALUES (?,?,?,?,?) "
           "ON CONFLICT(model_id, alias) DO UPDATE SET version = excluded.version, "
           "updated_at = excluded.updated_at, sticky = excluded.sticky")
        .bind(1, id)
        .bind(2, alias)
        .bind(3, versions.front().version)
        .bind(4, now())
        .bind(5, int64_t{split && sticky ? 1 : 0})
        .run();
    if (split) {
      boost::json::array shares;
      int64_t position = 0;
      for (const AliasWeight& v : versions) {
        db_->prepare(
               "INSERT INTO alias_weights (model_id, alias, position, version, weight) "
               "VALUES (?,?,?,?,?)")
            .bind(1, id)
            .bind(2, alias)
            .bind(3, position++)
            .bind(4, v.version)
            .bind(5, int64_t{v.weight})
            .run();
        shares.emplace_back(boost::json::object{{"version", v.version}, {"weight", v.weight}});
      }
      details["split"] = std::move(shares);
      details["sticky"] = sticky;
    }
    append_audit(actor, split ? "alias.split" : "alias.set", model + ":" + alias,
                 boost::json::serialize(details));
    transaction.commit();
  }
  reload_catalog();
}

void Registry::remove_alias(const std::string& model, const std::string& alias,
                            const std::string& actor) {
  validate_alias(alias);
  std::lock_guard lock(write_mutex_);
  {
    sql::Transaction transaction(*db_);
    int64_t id = model_id(model);
    db_->prepare("DELETE FROM alias_weights WHERE model_id = ? AND alias = ?")
        .bind(1, id)
        .bind(2, alias)
        .run();
    db_->prepare("DELETE FROM aliases WHERE model_id = ? AND alias = ?")
        .bind(1, id)
        .bind(2, alias)
        .run();
    if (db_->changes() == 0) {
      throw RegistryError(Code::kNotFound, "model '" + model + "' has no alias '" + alias + "'");
    }
    append_audit(actor, "alias.remove", model + ":" + alias, "{}");
    transaction.commit();
  }
  reload_catalog();
}

}  // namespace mg::registry
