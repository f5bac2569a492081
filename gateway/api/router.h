#pragma once

#include <string>

#include "api/http_types.h"

namespace mg::registry {
class Registry;
}

namespace mg::gateway {

class ModelRepository;

// What request handling needs from the rest of the server.
struct Services {
  registry::Registry& registry;
  ModelRepository& models;
  std::string server_version;
};

// The router: a pure function from a request to a response (no sockets), so every
// endpoint is testable without a network. Never throws: every refusal becomes a response
// in the error contract.
HttpResponse route(const HttpRequest& request, Services& services);

}  // namespace mg::gateway
