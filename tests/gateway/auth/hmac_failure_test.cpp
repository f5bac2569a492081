// Fault injection: OpenSSL's HMAC() and EVP_MAC_final() fail (out of memory, a provider without
// HMAC). A signed request must then be refused: before, the unchecked call left a zero-length MAC
// and the comparison of zero bytes let any signature through.
//
// This executable defines HMAC and EVP_MAC_final itself. Its own calls (the authenticator is linked
// in statically) bind to this definition, which forwards to libcrypto's unless a test has switched
// failures on.
#include <dlfcn.h>
#include <openssl/hmac.h>

#include <atomic>

#include "gateway/auth/api_key.h"
#include "modelgate/client.h"
#include "tests/gateway/api/router_fixture.h"

namespace {
std::atomic<bool> g_fail_hmac{false};
}

extern "C" unsigned char* HMAC(const EVP_MD* md, const void* key, int key_size,
                               const unsigned char* data, size_t data_size, unsigned char* out,
                               unsigned int* out_size) {
  if (g_fail_hmac) return nullptr;
  using Real = unsigned char* (*)(const EVP_MD*, const void*, int, const unsigned char*, size_t,
                                  unsigned char*, unsigned int*);
  static const auto real = reinterpret_cast<Real>(dlsym(RTLD_NEXT, "HMAC"));
  return real(md, key, key_size, data, data_size, out, out_size);
}

// The bearer check's keyed hash (KeyCrypto::hash_key) runs through EVP_MAC.
extern "C" int EVP_MAC_final(EVP_MAC_CTX* ctx, unsigned char* out, size_t* out_size,
                             size_t out_capacity) {
  if (g_fail_hmac) return 0;
  using Real = int (*)(EVP_MAC_CTX*, unsigned char*, size_t*, size_t);
  static const auto real = reinterpret_cast<Real>(dlsym(RTLD_NEXT, "EVP_MAC_final"));
  return real(ctx, out, out_size, out_capacity);
}

namespace mg::gateway {
namespace {

using HmacFailure = RouterTest;

TEST_F(HmacFailure, ASignedRequestIsRefusedWhenTheMacCannotBeComputed) {
  const std::string target = "/v2/models/fashion-mlp";
  const std::string ts = std::to_string(now_ms_ / 1000), nonce = "nonce-hmac-failure-1";
  HttpRequest request{"GET",
                      target,
                      {{"X-MG-Key-Id", std::string(parse_api_key(key_)->id)},
                       {"X-MG-Timestamp", ts},
                       {"X-MG-Nonce", nonce},
                       {"X-MG-Signature", std::string(64, 'a')}},  // not the signature
                      ""};
  g_fail_hmac = true;
  HttpResponse refused = route(request, *services_);
  g_fail_hmac = false;
  EXPECT_EQ(refused.status, 500) << refused.body;
  EXPECT_EQ(body_of(refused)["code"].as_string(), "internal");

  // With HMAC working, the same forged signature is a bad signature, and the real one passes.
  expect_error(route(request, *services_), 401, "bad_signature", "");
  request.headers[2].second = "nonce-hmac-failure-2";
  request.headers[3].second = modelgate::sign_request(
      key_, "GET", target, ts, "nonce-hmac-failure-2", modelgate::sha256_hex(""));
  EXPECT_EQ(route(request, *services_).status, 200);
}

TEST_F(HmacFailure, ABearerKeyIsRefusedWhenItsHashCannotBeComputed) {
  g_fail_hmac = true;
  HttpResponse refused = call("GET", "/v2/models/fashion-mlp");
  g_fail_hmac = false;
  EXPECT_EQ(refused.status, 500) << refused.body;
  EXPECT_EQ(call("GET", "/v2/models/fashion-mlp").status, 200);
}

}  // namespace
}  // namespace mg::gateway
