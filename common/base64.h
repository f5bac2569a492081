#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mg {

// Standard base64 (RFC 4648, with padding) decoded by OpenSSL's EVP decoder: the exact
// bytes, or nullopt for text that is not base64. One decoder for every input that arrives
// in base64 (images in JSON requests, signature files in headers).
std::optional<std::string> decode_base64(std::string_view text);

}  // namespace mg
