#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace mg::gateway {

// Request bodies sent with `Content-Encoding: gzip` or `deflate` (tritonclient's
// request_compression_algorithm), decompressed with zlib after authentication (a signature
// covers the body as sent). `identity` or no header: nullopt, the body is used as it is.
// Throws ApiError: 415 unsupported_media_type for any other encoding, 413
// payload_too_large when the decompressed body would pass `limit` bytes (a zip bomb stops
// there, never allocates more), 400 bad_request for a corrupt stream.
std::optional<std::string> decode_content(std::string_view encoding, std::string_view body,
                                          std::size_t limit);

}  // namespace mg::gateway
