// Prints every route the server's router serves, one "METHOD /pattern" per line (the
// data plane, then the admin API): what tests/docs/check_openapi.py compares the
// documents with.
#include <iostream>

#include "gateway/api/admin_api.h"
#include "gateway/api/router.h"

int main() {
  for (const auto& specs : {mg::gateway::data_route_specs(), mg::gateway::admin_route_specs()}) {
    for (const auto& route : specs) std::cout << route.method << ' ' << route.pattern << '\n';
  }
  return 0;
}
