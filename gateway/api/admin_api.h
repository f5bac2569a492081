#pragma once

#include <string_view>
#include <vector>

#include "gateway/api/route_table.h"
#include "gateway/api/router.h"
#include "gateway/auth/authenticator.h"
#include "gateway/http/http_types.h"

namespace mg::gateway {

// The admin API under /admin/v1/ (docs/admin-api.openapi.yaml lists every route). The caller has
// authenticated the request and checked the admin scope. Every change goes through the registry,
// which audits it under the caller's key id. Throws ApiError; the router turns it into the error
// contract.
HttpResponse admin_route(const HttpRequest& request, const PathParts& parts,
                         const Principal& caller, Services& services);

// Every admin route (method and path pattern), for the OpenAPI document check.
std::vector<RouteSpec> admin_route_specs();

// POST /admin/v1/models/{m}/versions: the artifact streams into the store as it arrives.
// Refuses unread before any byte of the body is taken: throws ApiError (401/403 audited,
// 404, 400, 415); route_stream answers, logs and counts it.
StreamDecision open_upload(const HttpRequest& head, const PathParts& parts, Services& services);

}  // namespace mg::gateway
