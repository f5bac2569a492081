#pragma once

#include <string>
#include <string_view>

namespace mg::registry {

// Detached Ed25519 signatures over an artifact's SHA-256 digest (docs/contracts.md "Model
// protection"). The signed message is the ASCII text
//     "modelgate-artifact-v1\nsha256:" + lowercase hex digest
// and a signature file (`mgctl sign FILE --key PRIV.pem > FILE.sig`) is five lines:
//     modelgate-signature v1
//     algorithm ed25519
//     digest sha256:<64 hex>
//     public-key sha256:<64 hex of the signer's DER SubjectPublicKeyInfo>
//     signature <128 hex>
// The public-key fingerprint names the trusted signer whose key must verify it.
struct ArtifactSignature {
  std::string digest;      // lowercase hex SHA-256 of the artifact
  std::string public_key;  // lowercase hex SHA-256 of the signer's public key (DER)
  std::string signature;   // 64 raw bytes
};

std::string format_signature(const ArtifactSignature& signature);
// Throws RegistryError(kInvalidArgument) naming what is wrong (truncated, bad field…).
ArtifactSignature parse_signature(std::string_view text);

// Signs with an Ed25519 private key (PEM); throws RegistryError(kInvalidArgument) for a key
// that is not one.
ArtifactSignature sign_digest(const std::string& digest_hex, const std::string& private_key_pem);
// True when `signature` is a valid signature of its digest by this public key (PEM).
bool verify_signature(const ArtifactSignature& signature, const std::string& public_key_pem);
// Lowercase hex SHA-256 of an Ed25519 public key's DER form; throws for a key that is not
// an Ed25519 public key in PEM.
std::string public_key_fingerprint(const std::string& public_key_pem);

}  // namespace mg::registry
