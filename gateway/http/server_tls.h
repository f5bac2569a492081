#pragma once

#include <openssl/ssl.h>

#include <filesystem>

namespace mg::gateway {

// The listeners' TLS (HTTPS and gRPC): TLS 1.2 and later, TLS 1.2 limited to modern AEAD
// suites (the TLS 1.3 ones are all modern), renegotiation refused (clients never need it,
// and each one costs the server a full handshake on demand: a cheap way to burn its CPU),
// the certificate chain and key from PEM files. Throws std::runtime_error naming the files
// when they cannot be used.
void configure_server_tls(SSL_CTX* context, const std::filesystem::path& certificate,
                          const std::filesystem::path& private_key);

}  // namespace mg::gateway
