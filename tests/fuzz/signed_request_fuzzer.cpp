// Fuzzes request authentication: the Authorization header (bearer), the signed-request
// headers (X-MG-Key-Id, X-MG-Timestamp, X-MG-Nonce, X-MG-Signature) and the canonical
// string they are checked against, through the real Authenticator over a real registry
// (SQLite in a temp dir) holding one key, on a fixed clock.
// Input: seven lines then the body —
//   Authorization, X-MG-Key-Id, X-MG-Timestamp, X-MG-Nonce, X-MG-Signature, method, target
// An empty line omits that header. In the header lines "@KEY@" becomes the real key and
// "@ID@" its id; a signature line "@SIG@" becomes the correct signature of the request,
// so the fuzzer reaches the accepted and replayed-nonce paths, not only refusals. A header
// line holding '|' sends that header once per part (duplicated credentials); a request
// with a header twice, or a bearer beside signing headers, must never authenticate.
#include <stdlib.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/api/errors.h"
#include "gateway/auth/authenticator.h"
#include "modelgate/client.h"
#include "registry/registry.h"
#include "tests/fuzz/fuzz_finding.h"

namespace {

constexpr int64_t kNowMs = 1'800'000'000'000;

struct World {
  std::filesystem::path dir;
  std::unique_ptr<mg::registry::Registry> registry;
  std::unique_ptr<mg::gateway::Authenticator> auth;
  std::string key, id;

  World() {
    char pattern[] = "/tmp/mg-fuzz-auth-XXXXXX";
    dir = ::mkdtemp(pattern);
    registry = std::make_unique<mg::registry::Registry>(
        mg::registry::RegistryOptions{dir, [] { return kNowMs; }, {}});
    std::array<unsigned char, 32> master{};
    master.fill(7);
    auth = std::make_unique<mg::gateway::Authenticator>(*registry, mg::gateway::KeyCrypto(master),
                                                        [] { return kNowMs; });
    registry->create_tenant("acme", 0, mg::registry::QuotaPeriod::kMonth, "fuzz");
    mg::gateway::KeySpec spec{"acme", mg::registry::kScopeInfer};
    key = auth->issue_key(spec, "fuzz").key;
    id = key.substr(3, 12);
  }
  ~World() {
    auth.reset();
    registry.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
};

void replace_all(std::string& text, std::string_view from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World world;
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> lines;
  while (lines.size() < 7) {
    const auto end = rest.find('\n');
    if (end == std::string_view::npos) return 0;
    lines.emplace_back(rest.substr(0, end));
    rest.remove_prefix(end + 1);
  }
  for (auto& line : lines) {
    replace_all(line, "@KEY@", world.key);
    replace_all(line, "@ID@", world.id);
  }
  mg::gateway::HttpRequest request;
  request.method = lines[5];
  request.target = lines[6];
  request.body = std::string(rest);
  if (lines[4] == "@SIG@") {
    lines[4] = modelgate::sign_request(world.key, request.method, request.target, lines[2],
                                       lines[3], modelgate::sha256_hex(request.body));
  }
  const char* names[] = {"Authorization", "X-MG-Key-Id", "X-MG-Timestamp", "X-MG-Nonce",
                         "X-MG-Signature"};
  bool ambiguous = false;
  int signing_headers = 0;
  for (int i = 0; i < 5; ++i) {
    if (lines[i].empty()) continue;
    std::string_view value = lines[i];
    int copies = 0;
    for (;;) {
      const auto bar = value.find('|');
      request.headers.emplace_back(names[i], std::string(value.substr(0, bar)));
      ++copies;
      if (bar == std::string_view::npos) break;
      value.remove_prefix(bar + 1);
    }
    ambiguous = ambiguous || copies > 1;
    signing_headers += i > 0;
  }
  ambiguous = ambiguous || (!lines[0].empty() && signing_headers > 0);
  try {
    const auto caller = world.auth->authenticate(request);
    if (caller.tenant != "acme" || caller.key_id != world.id) {
      mg::fuzz::finding("authenticated as someone other than the only key");
    }
    if (ambiguous) mg::fuzz::finding("ambiguous credentials were accepted");
  } catch (const mg::gateway::AuthError& e) {
    // 429: the key's replay budget is spent (the clock never moves, so nonces never expire).
    const bool budget = e.status() == 429 && e.code() == "rate_limited";
    if (e.status() != 401 && e.status() != 403 && !budget) {
      mg::fuzz::finding("auth refusal not 401/403");
    }
  }
  return 0;
}
