#pragma once
// Ed25519 key pairs for tests only (made with `openssl genpkey -algorithm ed25519`).
namespace mg::test_keys {

inline constexpr char kPrivate1[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJA3XSKJimUtfVPrOkulfzQ1kRO8/lnk5oqqEfZQ+/No\n"
    "-----END PRIVATE KEY-----\n";
inline constexpr char kPublic1[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAkv3BV0b/9qcA5tIBUbh5dtOE/CMPAqIDHSCAnEZsLwE=\n"
    "-----END PUBLIC KEY-----\n";
inline constexpr char kPrivate2[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJGSTZYJlRpdY1d/KfQgfmjRtitVCCUA3Wfk1xosfbbv\n"
    "-----END PRIVATE KEY-----\n";
inline constexpr char kPublic2[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAajT6FtNbl/0g4Sw7m5duNdk2N3qvNg8Ag86GoHzu++M=\n"
    "-----END PUBLIC KEY-----\n";

}  // namespace mg::test_keys
