#pragma once

#include <string>
#include <string_view>

namespace mg::registry {

// Names of models, aliases, signers and tenants: 1 to 64 characters of [a-z0-9._-],
// starting with a letter or digit. They never become file names (artifacts are stored by
// digest), but they do appear in URLs, metric labels and logs, so the set is narrow.
// Aliases additionally may not be all digits: "/versions/3" must mean version 3.
inline constexpr std::size_t kMaxNameLength = 64;

// Throws RegistryError(kInvalidArgument) naming `kind` ("model", "alias", …) and the rule.
void validate_name(std::string_view kind, std::string_view name);
void validate_alias(std::string_view alias);
// The name of a file a version carries besides its model ("vocabulary", "labels").
void validate_file_name(std::string_view name);
// Model names that KServe v2 / Triton paths give a meaning of their own under /v2/models/
// (/v2/models/stats is Triton's statistics of every model, not the metadata of a model
// named "stats"); creating a model of such a name is refused.
bool is_reserved_model_name(std::string_view name);

}  // namespace mg::registry
