// Who keeps a plugin library mapped, and when the host may unload it.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include "gateway/plugin_host/backend_error.h"
#include "gateway/plugin_host/backend_manager.h"
#include "tests/gateway/plugin_host/test_support.h"

namespace mg::gateway {
namespace {

using testing::test_plugin;

// True while the library is mapped into this process (RTLD_NOLOAD never loads it).
bool is_mapped(const std::filesystem::path& path) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (handle == nullptr) return false;
  dlclose(handle);
  return true;
}

TEST(BackendLifetime, UnloadWithNoModelsClosesTheLibrary) {
  BackendManager manager;
  manager.load(test_plugin("test_good"));
  ASSERT_TRUE(is_mapped(test_plugin("test_good")));
  manager.unload("test_good");
  EXPECT_FALSE(is_mapped(test_plugin("test_good")));
  EXPECT_EQ(manager.find("test_good"), nullptr);
  EXPECT_EQ(manager.statuses().at(0).state, BackendStatus::State::kUnloaded);
}

TEST(BackendLifetime, UnloadIsRefusedWhileAModelIsLoaded) {
  BackendManager manager;
  manager.load(test_plugin("test_good"));
  auto model = testing::load_test_model(manager.find("test_good"));
  try {
    manager.unload("test_good");
    FAIL() << "unload succeeded with a model loaded";
  } catch (const BackendError& e) {
    EXPECT_EQ(e.code(), MG_ERROR_UNAVAILABLE);
    EXPECT_NE(std::string(e.what()).find("1 loaded model"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(is_mapped(test_plugin("test_good")));
  model.reset();
  manager.unload("test_good");
  EXPECT_FALSE(is_mapped(test_plugin("test_good")));
}

TEST(BackendLifetime, InstancesKeepModelAndLibraryAlive) {
  auto instance = [] {
    auto backend = Backend::open(test_plugin("test_good"), "{}");
    return testing::load_test_model(backend)->create_instance(0);
  }();  // the backend and model handles are gone; the instance holds them
  EXPECT_TRUE(is_mapped(test_plugin("test_good")));
  testing::TestBatch batch({1});
  EXPECT_FALSE(instance->execute(batch.input).request_failures[0]);
  instance.reset();
  EXPECT_FALSE(is_mapped(test_plugin("test_good")));
}

TEST(BackendLifetime, UnknownBackendCannotBeUnloaded) {
  BackendManager manager;
  EXPECT_THROW(manager.unload("nothing"), BackendError);
}

}  // namespace
}  // namespace mg::gateway
