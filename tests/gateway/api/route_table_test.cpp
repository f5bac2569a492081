#include "gateway/api/route_table.h"

#include <gtest/gtest.h>

#include "tests/gateway/api/router_fixture.h"

namespace mg::gateway {
namespace {

TEST(RouteTable, PatternsCaptureTheirParameters) {
  PathParams params;
  ASSERT_TRUE(match_pattern("/admin/v1/models/{model}/aliases/{alias}",
                            split_path("/admin/v1/models/m1/aliases/canary?x=1"), params));
  EXPECT_EQ(params["model"], "m1");
  EXPECT_EQ(params["alias"], "canary");
  EXPECT_EQ(params["version"], "");
  PathParams unused;
  EXPECT_FALSE(match_pattern("/v2/models/{model}", split_path("/v2/models"), unused));
  EXPECT_FALSE(match_pattern("/v2/models/{model}", split_path("/v2/models/m/ready"), unused));
  EXPECT_FALSE(match_pattern("/v2/models/{model}/ready", split_path("/v2/models/m/infer"), unused));
}

TEST(RouteTable, AKnownPathUnderAnotherMethodNamesTheAllowedOnes) {
  const RouteTable<int> table{{{"GET", "/a/{x}"}, 1}, {{"POST", "/a/{x}"}, 2}, {{"GET", "/b"}, 3}};
  PathParams params;
  auto found = table.find("POST", split_path("/a/7"), params);
  ASSERT_NE(found.handler, nullptr);
  EXPECT_EQ(*found.handler, 2);
  EXPECT_EQ(params["x"], "7");
  found = table.find("DELETE", split_path("/a/7"), params);
  EXPECT_EQ(found.handler, nullptr);
  EXPECT_TRUE(found.path_known);
  EXPECT_EQ(found.allowed, "GET, POST");
  found = table.find("GET", split_path("/c"), params);
  EXPECT_EQ(found.handler, nullptr);
  EXPECT_FALSE(found.path_known);
}

TEST_F(RouterTest, WrongMethodsAre405AndUnknownPaths404) {
  // Health needs no key, so neither does its 405.
  expect_error(call("POST", "/v2/health/live", "", {{"Authorization", ""}}), 405, "bad_request",
               "use GET");
  expect_error(call("DELETE", "/v2/models/fashion-mlp/infer"), 405, "bad_request", "use POST");
  expect_error(admin("DELETE", "/admin/v1/models"), 405, "bad_request", "use GET, POST");
  expect_error(admin("PATCH", "/admin/v1/models/fashion-mlp/aliases/default"), 405, "bad_request",
               "use PUT, DELETE");
  expect_error(admin("POST", "/admin/v1/models/fashion-mlp/versions/1/frobnicate"), 404,
               "not_found", "no such admin endpoint");
  expect_error(call("GET", "/v2/models/fashion-mlp/stats/x"), 404, "not_found", "no such endpoint");
  // Unknown data-plane paths still need a key first: no probing without one.
  expect_error(call("GET", "/v2/nope", "", {{"Authorization", ""}}), 401, "missing_credentials",
               "");
}

TEST_F(RouterTest, AnUnknownModelIsModelNotFoundEverywhere) {
  expect_error(call("GET", "/v2/models/nope"), 404, "model_not_found", "no model 'nope'");
  expect_error(admin("GET", "/admin/v1/models/nope/versions"), 404, "model_not_found", "nope");
  // Straight from the registry's error code (no handler check in between).
  expect_error(admin("POST", "/admin/v1/models/nope/versions/1/load"), 404, "model_not_found",
               "nope");
}

}  // namespace
}  // namespace mg::gateway
