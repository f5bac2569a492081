// Loading plugins: the version check, refusals with their reasons, and discovery.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <string>

#include "gateway/plugin_host/backend_error.h"
#include "gateway/plugin_host/backend_manager.h"
#include "tests/gateway/plugin_host/test_support.h"

namespace mg::gateway {
namespace {

using testing::LogCapture;
using testing::test_plugin;

std::string host_abi() {
  return std::to_string(MG_PLUGIN_ABI_MAJOR) + "." + std::to_string(MG_PLUGIN_ABI_MINOR);
}

TEST(BackendLoading, GoodPluginLoadsWithItsVersions) {
  auto backend = Backend::open(test_plugin("test_good"), "{}");
  EXPECT_EQ(backend->name(), "test_good");
  EXPECT_EQ(backend->version(), "0.0.1-test");
  EXPECT_EQ(backend->abi_major(), MG_PLUGIN_ABI_MAJOR);
  EXPECT_EQ(backend->abi_minor(), MG_PLUGIN_ABI_MINOR);
  EXPECT_EQ(backend->loaded_models(), 0);
}

// Asserts that opening `plugin` throws, with a message holding every fragment.
void expect_refused(const std::string& plugin, const std::vector<std::string>& fragments) {
  try {
    Backend::open(test_plugin(plugin), "{}");
    FAIL() << plugin << " was accepted";
  } catch (const BackendError& e) {
    std::string message = e.what();
    EXPECT_NE(message.find(test_plugin(plugin).string()), std::string::npos) << message;
    for (const auto& fragment : fragments) {
      EXPECT_NE(message.find(fragment), std::string::npos) << "'" << fragment << "' in " << message;
    }
  }
}

TEST(BackendLoading, OtherMajorVersionIsRefusedNamingBothVersions) {
  expect_refused("test_bad_major",
                 {"plugin ABI 2." + std::to_string(MG_PLUGIN_ABI_MINOR), "host ABI " + host_abi()});
}

TEST(BackendLoading, NewerMinorVersionIsRefusedNamingBothVersions) {
  expect_refused("test_new_minor", {"plugin ABI " + std::to_string(MG_PLUGIN_ABI_MAJOR) + "." +
                                        std::to_string(MG_PLUGIN_ABI_MINOR + 1),
                                    "host ABI " + host_abi(), "newer"});
}

TEST(BackendLoading, MissingEntrySymbolIsRefused) {
  expect_refused("test_no_entry", {"missing entry symbol mg_backend_entry"});
}

TEST(BackendLoading, InitFailureIsRefusedWithThePluginsMessage) {
  expect_refused("test_init_fails", {"backend_init failed", "device not present"});
}

TEST(BackendLoading, MissingFileAndBadFileNamesAreRefused) {
  EXPECT_THROW(Backend::open(test_plugin("does_not_exist"), "{}"), BackendError);
  EXPECT_THROW(Backend::open("/usr/lib/libnot_a_plugin.so", "{}"), BackendError);
}

TEST(BackendLoading, NonElfFileIsRefused) {
  auto dir = std::filesystem::temp_directory_path() / "mg_plugin_garbage";
  std::filesystem::create_directories(dir);
  auto file = dir / "libmg_garbage.so";
  { std::ofstream(file) << "this is not an ELF file"; }
  EXPECT_THROW(Backend::open(file, "{}"), BackendError);
  std::filesystem::remove_all(dir);
}

TEST(BackendManager, DiscoveryRecordsEveryPluginWithStateAndReason) {
  LogCapture logs;
  BackendManager manager;
  manager.discover({MG_TEST_PLUGIN_DIR, "/nonexistent/plugin/dir"});

  std::map<std::string, BackendStatus> by_name;
  for (const auto& status : manager.statuses()) by_name[status.name] = status;
  ASSERT_EQ(by_name.size(), 6u);
  for (const char* good : {"test_good", "test_faulty"}) {  // test_faulty: misbehaves on demand
    EXPECT_EQ(by_name[good].state, BackendStatus::State::kReady) << good;
    EXPECT_EQ(by_name[good].version, "0.0.1-test") << good;
  }
  for (const char* bad : {"test_bad_major", "test_new_minor", "test_no_entry", "test_init_fails"}) {
    EXPECT_EQ(by_name[bad].state, BackendStatus::State::kFailed) << bad;
    EXPECT_FALSE(by_name[bad].reason.empty()) << bad;
    EXPECT_EQ(manager.find(bad), nullptr) << bad;
  }
  ASSERT_NE(manager.find("test_good"), nullptr);
  // The refusal is logged with the file and both versions; the missing dir is reported.
  EXPECT_TRUE(logs.contains(test_plugin("test_bad_major").string()));
  EXPECT_TRUE(logs.contains("plugin ABI 2." + std::to_string(MG_PLUGIN_ABI_MINOR) +
                            " is incompatible with host ABI " + host_abi()));
  EXPECT_TRUE(logs.contains("/nonexistent/plugin/dir"));
}

TEST(BackendManager, SecondProviderOfANameIsRecordedAsFailed) {
  BackendManager manager;
  ASSERT_EQ(manager.load(test_plugin("test_good")).state, BackendStatus::State::kReady);
  BackendStatus again = manager.load(test_plugin("test_good"));
  EXPECT_EQ(again.state, BackendStatus::State::kFailed);
  EXPECT_NE(again.reason.find("already provided"), std::string::npos);
  EXPECT_NE(manager.find("test_good"), nullptr);
}

}  // namespace
}  // namespace mg::gateway
