#pragma once

#include <filesystem>
#include <string>

namespace mg::gateway {

// An open shared library: dlopen(RTLD_NOW | RTLD_LOCAL) on construction, dlclose on
// destruction. Move-only, so exactly one owner closes it.
class PluginLibrary {
 public:
  // Throws BackendError (code MG_ERROR_NOT_FOUND) with dlerror()'s text on failure.
  explicit PluginLibrary(const std::filesystem::path& path);
  PluginLibrary(PluginLibrary&& other) noexcept;
  PluginLibrary& operator=(PluginLibrary&& other) noexcept;
  PluginLibrary(const PluginLibrary&) = delete;
  PluginLibrary& operator=(const PluginLibrary&) = delete;
  ~PluginLibrary();

  // The address of an exported symbol, or nullptr when the library does not export it.
  void* symbol(const char* name) const;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  void* handle_ = nullptr;
};

}  // namespace mg::gateway
