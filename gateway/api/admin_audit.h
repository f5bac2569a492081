#pragma once

#include "gateway/api/errors.h"
#include "gateway/api/router.h"
#include "gateway/http/http_types.h"

namespace mg::gateway {

// Audits a refused (401/403) admin request: the key id it named, its method and path, the
// refusal's code; at most 60 a minute, the rest counted in the next entry. Never throws.
void audit_refused_admin(Services& services, const HttpRequest& request, const ApiError& e);

}  // namespace mg::gateway
