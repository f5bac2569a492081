// Kills a child that is changing the registry with SIGKILL at random moments, many times.
// After each kill: SQLite's integrity check passes, every live version has its artifact
// with the right digest, no partial file sits under a final name, aliases point at live
// versions, and the registry opens again. Rounds: MG_CRASH_ROUNDS (default 200).
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <thread>

#include "registry/registry.h"
#include "registry/registry_error.h"
#include "registry/schema.h"
#include "registry/sqlite.h"
#include "tests/registry/temp_dir.h"

extern char** environ;

namespace mg::registry {
namespace {

// Starts the writer with its stdout on a pipe; returns its pid and the pipe's read end.
std::pair<pid_t, int> spawn_writer(const std::filesystem::path& dir, int seed) {
  std::string program = MG_CRASH_WRITER, dir_arg = dir.string(), seed_arg = std::to_string(seed);
  char* argv[] = {program.data(), dir_arg.data(), seed_arg.data(), nullptr};
  int fds[2];
  if (pipe(fds) != 0) return {-1, -1};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  pid_t pid = -1;
  if (posix_spawn(&pid, program.c_str(), &actions, nullptr, argv, environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  return {pid, fds[0]};
}

// Reads n bytes (one per committed version) from the writer; false on EOF.
bool await_commits(int fd, int n) {
  char byte;
  for (int i = 0; i < n; ++i) {
    if (read(fd, &byte, 1) != 1) return false;
  }
  return true;
}

// Returns a description of every broken invariant (empty when all hold).
std::vector<std::string> check_invariants(const std::filesystem::path& dir) {
  std::vector<std::string> broken;
  // 1. Every file under a final name is complete: its content hashes to its name.
  ArtifactStore store(dir / "artifacts");
  for (const auto& digest : store.list()) {
    try {
      store.read(digest);
    } catch (const RegistryError& e) {
      broken.push_back(std::string("partial or corrupt artifact: ") + e.what());
    }
  }
  // 2. The database is intact and consistent.
  sql::SqliteDatabase db(dir / "registry.db");
  auto integrity = db.prepare("PRAGMA integrity_check");
  integrity.step();
  if (integrity.column_text(0) != "ok") broken.push_back("integrity: " + integrity.column_text(0));
  auto foreign_keys = db.prepare("PRAGMA foreign_key_check");
  if (foreign_keys.step())
    broken.push_back("foreign key violation in " + foreign_keys.column_text(0));
  // A kill before the first migration committed leaves an empty, valid database.
  if (schema_version(db) == 0) return broken;
  // 3. Every live version has its artifact; versions stay below next_version.
  auto versions = db.prepare(
      "SELECT m.name, v.version, v.artifact, m.next_version FROM versions v "
      "JOIN models m ON m.id = v.model_id WHERE v.state != 'retired'");
  while (versions.step()) {
    std::string where = versions.column_text(0) + "/" + std::to_string(versions.column_int(1));
    if (!store.contains(versions.column_text(2))) broken.push_back(where + " has no artifact");
    if (versions.column_int(1) >= versions.column_int(3)) broken.push_back(where + " >= next");
  }
  // 4. Aliases point at live versions.
  auto aliases = db.prepare(
      "SELECT a.alias, v.state FROM aliases a LEFT JOIN versions v "
      "ON v.model_id = a.model_id AND v.version = a.version");
  while (aliases.step()) {
    if (aliases.column_is_null(1) || aliases.column_text(1) == "retired") {
      broken.push_back("alias " + aliases.column_text(0) + " points at a dead version");
    }
  }
  return broken;
}

TEST(RegistryCrash, SigkillAtRandomMomentsLosesNothingCommitted) {
  const char* env = std::getenv("MG_CRASH_ROUNDS");
  const int rounds = env ? std::atoi(env) : 200;
  testing::TempDir dir;
  std::mt19937 rng(12345);
  int64_t versions_before = 0;
  int rounds_with_progress = 0;
  for (int round = 0; round < rounds; ++round) {
    auto [pid, progress] = spawn_writer(dir.path(), round);
    ASSERT_GT(pid, 0);
    // Wait for 0-2 reported commits (0: the kill may land during open or migration), then
    // let the writer run a random while more, so the kill lands at a random moment.
    const int heard = static_cast<int>(rng() % 3);
    ASSERT_TRUE(await_commits(progress, heard)) << "writer died in round " << round;
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 20000));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    close(progress);
    ASSERT_TRUE(WIFSIGNALED(status)) << "writer exited by itself in round " << round;

    auto broken = check_invariants(dir.path());
    ASSERT_TRUE(broken.empty()) << "round " << round << ": " << broken.front();
    // Every version the writer reported committed is still there (retirement keeps rows).
    Registry registry({dir.path()});
    int64_t versions = 0;
    for (const auto& model : registry.list_models()) {
      versions += static_cast<int64_t>(registry.list_versions(model.name).size());
    }
    ASSERT_GE(versions, versions_before + heard) << "round " << round;
    rounds_with_progress += versions > versions_before;
    versions_before = versions;
  }
  std::printf("%d rounds, %d with new versions, %lld versions in all\n", rounds,
              rounds_with_progress, static_cast<long long>(versions_before));
}

}  // namespace
}  // namespace mg::registry
