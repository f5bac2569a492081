#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mg::gateway {

// The value of `name` in the request target's query string, percent-decoded ('+' is a
// space); nullopt when absent. A malformed escape throws ApiError 400.
std::optional<std::string> query_param(std::string_view target, std::string_view name);

}  // namespace mg::gateway
