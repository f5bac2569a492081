// The server config file's schema: which keys exist and what type each holds.
#pragma once

#include <toml++/toml.h>

#include <string>

namespace mg::gateway {

// Throws std::runtime_error naming `file` and the offending key when the config has a key
// the server does not know (a typo would otherwise be ignored silently) or a value of the
// wrong type (`threads = "2"`), or a number out of range.
void check_config_schema(const toml::table& config, const std::string& file);

}  // namespace mg::gateway
