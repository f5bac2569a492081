#pragma once

// The MG1-HMAC-SHA256 request-signing scheme (docs/signing.md): the string a signature
// covers. The client SDK signs with it and the server verifies with it, so the two cannot
// drift apart. Header-only, C++17.

#include <string>
#include <string_view>

namespace modelgate {

inline constexpr std::string_view kSigningScheme = "MG1-HMAC-SHA256";

// "MG1-HMAC-SHA256\n<METHOD>\n<target>\n<timestamp>\n<nonce>\n<body sha256 hex>": the
// target exactly as sent (path and query), the timestamp in unix seconds, the body's
// lowercase hex SHA-256 (of the bytes sent, so of the compressed body when
// Content-Encoding is used). The signature is the lowercase hex HMAC-SHA256 of it under
// the whole API key.
inline std::string string_to_sign(std::string_view method, std::string_view target,
                                  std::string_view timestamp, std::string_view nonce,
                                  std::string_view body_sha256_hex) {
  std::string text(kSigningScheme);
  for (std::string_view part : {method, target, timestamp, nonce, body_sha256_hex}) {
    text += '\n';
    text += part;
  }
  return text;
}

}  // namespace modelgate
