// A model's automatic canary rollback (docs/evaluation.md "Automatic rollback"): the
// thresholds the canary guard judges a weighted alias's other versions by.
#include <boost/json.hpp>

#include "gateway/api/admin_routes.h"
#include "gateway/api/canary_guard.h"
#include "gateway/api/errors.h"
#include "gateway/api/json_body.h"
#include "registry/registry.h"

namespace mg::gateway {

// {"max_error_rate"?: 0..1, "max_p99_ms"?: > 0, "min_requests"?: N}, at least one threshold.
HttpResponse set_canary(const AdminCall& call) {
  Services& s = call.services;
  const std::string model = call.params.str("model");
  require_model(s, model);
  CanaryThresholds thresholds;
  try {
    thresholds = canary_thresholds(parse_object(call.request.body));
  } catch (const std::invalid_argument& e) {
    throw bad_request(e.what());
  }
  const boost::json::object canary = canary_json(thresholds);
  s.registry.set_model_section(model, "canary", boost::json::serialize(canary), call.caller.key_id);
  return json_response(boost::json::object{{"model", model}, {"canary", canary}});
}

HttpResponse remove_canary(const AdminCall& call) {
  Services& s = call.services;
  const std::string model = call.params.str("model");
  require_model(s, model);
  s.registry.set_model_section(model, "canary", "", call.caller.key_id);
  return json_response(boost::json::object{{"model", model}, {"canary", nullptr}});
}

}  // namespace mg::gateway
