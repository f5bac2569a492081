#include "gateway/auth/api_key.h"

#include <openssl/rand.h>

#include <algorithm>
#include <stdexcept>

namespace mg::gateway {
namespace {

constexpr std::string_view kIdAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
constexpr std::string_view kSecretAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
constexpr std::size_t kIdLength = 12, kSecretLength = 40;

// The alphabets above as tests on a character: find_first_not_of(alphabet) searched the
// alphabet once per character (a memchr call each), on every authenticated request.
// (Lambdas, not functions, so that all_of inlines them.)
constexpr auto in_id_alphabet = [](char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
};
constexpr auto in_secret_alphabet = [](char c) {
  return in_id_alphabet(c) || (c >= 'A' && c <= 'Z');
};

template <typename InAlphabet>
bool all_in(std::string_view text, InAlphabet in_alphabet) {
  return std::all_of(text.begin(), text.end(), in_alphabet);
}

std::string random_string(std::string_view alphabet, std::size_t length) {
  // Bytes at or above the largest multiple of the alphabet size are dropped, so every
  // character is equally likely.
  const unsigned limit = 256 - 256 % alphabet.size();
  std::string out;
  unsigned char buffer[64];
  while (out.size() < length) {
    if (RAND_bytes(buffer, sizeof buffer) != 1) throw std::runtime_error("no randomness");
    for (unsigned char b : buffer) {
      if (b < limit && out.size() < length) out.push_back(alphabet[b % alphabet.size()]);
    }
  }
  return out;
}

}  // namespace

bool valid_key_id(std::string_view id) {
  return id.size() == kIdLength && all_in(id, in_id_alphabet);
}

std::optional<ParsedKey> parse_api_key(std::string_view key) {
  if (key.size() != 3 + kIdLength + 1 + kSecretLength || !key.starts_with("mg_") ||
      key[3 + kIdLength] != '_') {
    return std::nullopt;
  }
  ParsedKey parsed{key.substr(3, kIdLength), key.substr(4 + kIdLength)};
  if (!valid_key_id(parsed.id) || !all_in(parsed.secret, in_secret_alphabet)) return std::nullopt;
  return parsed;
}

std::string generate_api_key() {
  return "mg_" + random_string(kIdAlphabet, kIdLength) + "_" +
         random_string(kSecretAlphabet, kSecretLength);
}

}  // namespace mg::gateway
