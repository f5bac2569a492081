// What model protection costs at load (the speed targets): reading an artifact from the
// store with digest verification, plaintext vs AES-256-GCM encrypted (decrypt in memory,
// then SHA-256), and checking its Ed25519 signature, for the three seed models and a
// 200 MB artifact. Prints MB/s (medians of 5). Run: build/bench/protection_bench
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <vector>

#include "registry/artifact_signature.h"
#include "registry/registry.h"

namespace {

using namespace mg::registry;
namespace fs = std::filesystem;

// Ed25519 test key (bench only; the same as tests/registry/test_keys.h).
constexpr char kPrivate[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJA3XSKJimUtfVPrOkulfzQ1kRO8/lnk5oqqEfZQ+/No\n"
    "-----END PRIVATE KEY-----\n";
constexpr char kPublic[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAkv3BV0b/9qcA5tIBUbh5dtOE/CMPAqIDHSCAnEZsLwE=\n"
    "-----END PUBLIC KEY-----\n";

std::string file_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

template <class F>
double median_seconds(F&& f) {
  std::vector<double> runs;
  for (int i = 0; i < 5; ++i) {
    const auto start = std::chrono::steady_clock::now();
    f();
    runs.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(runs.begin(), runs.end());
  return runs[2];
}

}  // namespace

int main() {
  const fs::path root =
      fs::temp_directory_path() / ("protection-bench-" + std::to_string(getpid()));
  fs::remove_all(root);
  std::array<unsigned char, 32> master{};
  master.fill(3);
  Registry plain({root / "plain"});
  Registry encrypted({root / "encrypted", {}, {derive_artifact_key(master)}});
  encrypted.add_signer("release", kPublic, "bench");
  std::vector<std::pair<std::string, std::string>> artifacts;
  for (const char* model : {"fashion-mlp", "fashion-cnn", "text-classifier"}) {
    artifacts.emplace_back(
        model, file_bytes(fs::path(MG_EXAMPLES_DIR) / "models" / (std::string(model) + ".onnx")));
  }
  std::string big(200u << 20, '\0');
  std::mt19937_64 random(1);
  for (std::size_t i = 0; i + 8 <= big.size(); i += 8) {
    const uint64_t v = random();
    std::memcpy(big.data() + i, &v, 8);
  }
  artifacts.emplace_back("random-200mb", std::move(big));
  std::printf("%-16s %10s %16s %18s %14s\n", "artifact", "size", "plain read MB/s",
              "encrypted read MB/s", "signature µs");
  for (const auto& [name, content] : artifacts) {
    const auto bytes = std::as_bytes(std::span(content.data(), content.size()));
    plain.create_model({name}, "bench");
    encrypted.create_model({name}, "bench");
    const StoredArtifact a = plain.artifacts().put(bytes);
    plain.add_version(name, a, "", "bench");
    const StoredArtifact b = encrypted.artifacts().put(bytes);
    encrypted.add_version(name, b, "", "bench");
    encrypted.add_signature(b.digest, "release", sign_digest(b.digest, kPrivate).signature,
                            "bench");
    const double mb = static_cast<double>(content.size()) / 1e6;
    const double plain_s = median_seconds([&] { plain.artifacts().read(a.digest); });
    const double enc_s = median_seconds([&] { encrypted.artifacts().read(b.digest); });
    const double sig_s = median_seconds([&] {
      if (!encrypted.verified_signer(b.digest)) std::abort();
    });
    std::printf("%-16s %8.1f MB %16.0f %18.0f %14.0f\n", name.c_str(), mb, mb / plain_s, mb / enc_s,
                sig_s * 1e6);
  }
  fs::remove_all(root);
  return 0;
}
