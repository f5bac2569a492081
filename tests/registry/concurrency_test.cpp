// Readers hammer lookups while a writer adds versions, flips aliases and retires old
// versions: no reader sees an error or a torn view.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "registry/registry.h"
#include "tests/registry/temp_dir.h"
#include "tests/registry/test_engines.h"

namespace mg::registry {
namespace {

class RegistryConcurrency : public ::testing::TestWithParam<testing::Engine> {};
INSTANTIATE_TEST_SUITE_P(Engines, RegistryConcurrency,
                         ::testing::Values(testing::Engine::kSqlite, testing::Engine::kPostgres),
                         testing::engine_name);

TEST_P(RegistryConcurrency, ReadersNeverSeeErrorsOrTornReads) {
  testing::TempDir dir;
  testing::EngineDatabase database(GetParam());
  if (!database.available()) GTEST_SKIP() << "no PostgreSQL test server";
  Registry registry(database.with({dir.path()}));
  registry.create_model({"m"}, "t");
  std::string first = "version 1";
  registry.add_version("m", registry.artifacts().put(testing::bytes_of(first)), "", "t");
  registry.set_alias("m", "default", 1, "t");

  std::atomic<bool> done{false};
  std::atomic<int64_t> lookups{0};
  std::atomic<int> problems{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&] {
      uint64_t last_generation = 0;
      int64_t last_default = 0;
      while (!done.load()) {
        try {
          auto snapshot = registry.catalog();
          // Within one snapshot, what the alias names exists and is live.
          auto version = snapshot->resolve("m", "default");
          const auto* entry = snapshot->find("m");
          if (!version || !entry || !entry->versions.count(*version) ||
              entry->versions.at(*version).state == VersionState::kRetired) {
            ++problems;
            continue;
          }
          // Snapshots only move forward, and so does the promoted version.
          if (snapshot->generation < last_generation || *version < last_default) ++problems;
          last_generation = snapshot->generation;
          last_default = *version;
          if (!registry.find_version("m", *version)) ++problems;
          ++lookups;
        } catch (...) {
          ++problems;
        }
      }
    });
  }
  constexpr int kVersions = 150;
  for (int i = 2; i <= kVersions; ++i) {
    std::string content = "version " + std::to_string(i);
    auto v =
        registry.add_version("m", registry.artifacts().put(testing::bytes_of(content)), "", "t");
    registry.set_alias("m", "default", v.version, "t");
    registry.set_version_state("m", v.version - 1, VersionState::kRetired, "", "t");
  }
  done = true;
  for (auto& reader : readers) reader.join();
  EXPECT_EQ(problems.load(), 0);
  EXPECT_GT(lookups.load(), kVersions);
  EXPECT_EQ(registry.resolve("m", "default"), kVersions);
  std::printf("lookups during %d writes: %lld\n", kVersions, static_cast<long long>(lookups));
}

}  // namespace
}  // namespace mg::registry
