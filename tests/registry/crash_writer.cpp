// registry_crash_writer DIR SEED — a child for the crash test: opens the registry in DIR
// and changes it as fast as it can (uploads, new versions, alias flips, state changes,
// retirements) until it is killed. Writes one byte to stdout per committed version.
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "registry/registry.h"

int main(int argc, char** argv) {
  using namespace mg::registry;
  if (argc != 3) {
    std::fprintf(stderr, "usage: registry_crash_writer DIR SEED\n");
    return 2;
  }
  Registry registry({argv[1]});
  std::mt19937 rng(static_cast<unsigned>(std::atoi(argv[2])));
  const std::vector<std::string> models = {"alpha", "beta"};
  for (const auto& model : models) {
    if (!registry.find_model(model)) registry.create_model({model}, "crash");
  }
  std::vector<std::byte> chunk(16 * 1024);
  for (;;) {
    const std::string& model = models[rng() % models.size()];
    auto writer = registry.artifacts().begin_write();
    // Mostly small; one in eight past 4 MiB, where a background thread hashes the file
    // behind the writes (the kill can land while it is still catching up).
    std::size_t size = rng() % 8 == 0 ? (4 << 20) + rng() % (2 << 20) : 1 + rng() % (256 * 1024);
    for (std::size_t written = 0; written < size; written += chunk.size()) {
      for (auto& b : chunk) b = static_cast<std::byte>(rng());
      std::size_t n = std::min(chunk.size(), size - written);
      writer.write(std::span(chunk).first(n));
    }
    StoredArtifact stored = writer.commit();
    VersionRecord v = registry.add_version(model, stored, "", "crash");
    // Tell the parent a version is committed: it checks that none it heard of is lost.
    std::fputc('v', stdout);
    std::fflush(stdout);
    registry.set_version_state(model, v.version, VersionState::kLoading, "", "crash");
    registry.set_version_state(model, v.version, VersionState::kReady, "", "crash");
    registry.set_alias(model, rng() % 2 ? "default" : "canary", v.version, "crash");
    if (rng() % 2 == 0) {
      // Retire the oldest live version no alias holds.
      auto aliases = registry.list_aliases(model);
      for (const auto& old : registry.list_versions(model)) {
        bool aliased = false;
        for (const auto& a : aliases) aliased = aliased || a.version == old.version;
        if (old.state == VersionState::kReady && !aliased) {
          registry.set_version_state(model, old.version, VersionState::kRetired, "", "crash");
          break;
        }
      }
    }
  }
}
