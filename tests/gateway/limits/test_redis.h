#pragma once

#include <cstdlib>
#include <fstream>
#include <string>

namespace mg::gateway::testing {

// The URL of the Redis the test command started (the file MG_TEST_REDIS_URL_FILE names,
// written by tests/cluster/redis_server.sh). Empty without the variable (a binary run by
// hand): the tests skip; with it, an unreachable server fails them.
inline std::string test_redis_url() {
  const char* file = std::getenv("MG_TEST_REDIS_URL_FILE");
  if (file == nullptr) return {};
  std::string url;
  std::ifstream(file) >> url;
  return url;
}

}  // namespace mg::gateway::testing
