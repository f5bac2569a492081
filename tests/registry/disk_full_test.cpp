// The registry on a full disk (a real 2 MiB tmpfs): uploads and catalogue changes fail
// with clear errors, nothing half-written is left, and everything works again once space
// returns.
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "registry/registry.h"
#include "registry/registry_error.h"
#include "registry/sqlite.h"
#include "tests/registry/temp_dir.h"

namespace mg::registry {
namespace {

using testing::bytes_of;

// Fills the file system holding dir with a file; returns its path.
std::filesystem::path fill_disk(const std::filesystem::path& dir) {
  std::filesystem::path filler = dir / "filler";
  std::ofstream out(filler, std::ios::binary);
  std::string block(4096, 'f');
  while (out.write(block.data(), static_cast<std::streamsize>(block.size()))) {
  }
  return filler;
}

TEST(RegistryDiskFull, FailsCleanlyAndRecoversWhenSpaceReturns) {
  testing::TempDir mount_point;
  if (::mount("tmpfs", mount_point.path().c_str(), "tmpfs", 0, "size=2m") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here: " << std::strerror(errno);
  }
  struct Unmount {
    const testing::TempDir& d;
    ~Unmount() { ::umount2(d.path().c_str(), MNT_DETACH); }
  } unmount{mount_point};
  const auto data_dir = mount_point.path() / "data";
  auto registry = std::make_unique<Registry>(RegistryOptions{data_dir});
  registry->create_model({"m"}, "t");
  registry->add_version("m", registry->artifacts().put(bytes_of("version one")), "", "t");

  auto filler = fill_disk(mount_point.path());
  // An upload: the artifact write fails, leaving no temp file and no version.
  std::string big(256 * 1024, 'w');
  EXPECT_THROW(registry->artifacts().put(bytes_of(big)), RegistryError);
  EXPECT_TRUE(std::filesystem::is_empty(data_dir / "artifacts" / "tmp"));
  // A catalogue change: SQLite reports the full disk; the transaction rolls back.
  bool refused = false;
  for (int i = 0; i < 200 && !refused; ++i) {
    try {
      registry->create_model({"model-" + std::to_string(i), "cpu", std::string(4000, 'd')}, "t");
    } catch (const RegistryError& e) {
      refused = true;
      EXPECT_NE(std::string(e.what()).find("full"), std::string::npos) << e.what();
    }
  }
  EXPECT_TRUE(refused);
  EXPECT_EQ(registry->list_versions("m").size(), 1u);

  // Space returns: uploads, versions and reopening all work, and nothing was corrupted.
  std::filesystem::remove(filler);
  auto v2 = registry->add_version("m", registry->artifacts().put(bytes_of(big)), "", "t");
  EXPECT_EQ(v2.version, 2);
  registry.reset();
  registry = std::make_unique<Registry>(RegistryOptions{data_dir});
  EXPECT_EQ(registry->list_versions("m").size(), 2u);
  for (const auto& v : registry->list_versions("m")) {
    EXPECT_NO_THROW(registry->artifacts().read(v.artifact));
  }
  sql::SqliteDatabase db(data_dir / "registry.db");
  auto integrity = db.prepare("PRAGMA integrity_check");
  integrity.step();
  EXPECT_EQ(integrity.column_text(0), "ok");
}

}  // namespace
}  // namespace mg::registry
