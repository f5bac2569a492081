#pragma once

#include <filesystem>

namespace mg::gateway {

// Writes a new ECDSA P-256 key (mode 0600) and a self-signed certificate for localhost and
// 127.0.0.1, valid for a year, as PEM. Throws std::runtime_error on failure.
void write_self_signed_certificate(const std::filesystem::path& certificate,
                                   const std::filesystem::path& private_key);

}  // namespace mg::gateway
