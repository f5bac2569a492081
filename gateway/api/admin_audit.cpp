#include "gateway/api/admin_audit.h"

#include <boost/json.hpp>
#include <chrono>
#include <mutex>

#include "common/log.h"
#include "gateway/auth/api_key.h"
#include "gateway/limits/limits.h"
#include "registry/registry.h"

namespace mg::gateway {

namespace json = boost::json;

namespace {

// The key id an admin request named, if it has the shape of one (never the secret).
std::string named_key_id(const HttpRequest& request) {
  const std::string_view authorization = request.header("Authorization");
  if (authorization.starts_with("Bearer ")) {
    if (auto parsed = parse_api_key(authorization.substr(7))) return std::string(parsed->id);
  }
  if (const std::string_view id = request.header("X-MG-Key-Id"); valid_key_id(id)) {
    return std::string(id);
  }
  return "anonymous";
}

// Refused admin requests (401, 403) go to the audit log, at most kRefusalsAuditedPerMinute
// a minute: enough to see an attack and the key ids it named, too few for a flood of bad
// keys to fill the disk. What the budget left out is counted in the next entry.
constexpr int kRefusalsAuditedPerMinute = 60;

}  // namespace

void audit_refused_admin(Services& s, const HttpRequest& request, const ApiError& e) {
  RefusalAuditBudget& budget = *s.refusal_audit;
  const int64_t now_ms = s.registry.now();
  int left_out = 0;
  {
    std::lock_guard lock(budget.mutex);
    if (now_ms / 60'000 != budget.minute) {
      budget.minute = now_ms / 60'000;
      left_out = budget.skipped;
      budget.audited = budget.skipped = 0;
    }
    if (budget.audited >= kRefusalsAuditedPerMinute) {
      ++budget.skipped;
      return;
    }
    ++budget.audited;
  }
  json::object details{{"status", e.status()}, {"code", e.code()}};
  if (left_out > 0) details["earlier_refusals_not_audited"] = left_out;
  const std::string_view target = request.target;
  try {
    s.registry.audit_refused_admin_request(
        named_key_id(request),
        request.method + " " +
            std::string(target.substr(0, std::min<std::size_t>(target.find('?'), 200))),
        json::serialize(details));
  } catch (const std::exception& failure) {
    log(LogLevel::kError, std::string("cannot audit a refused admin request: ") + failure.what());
  }
}

}  // namespace mg::gateway
