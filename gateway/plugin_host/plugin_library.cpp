#include "gateway/plugin_host/plugin_library.h"

#include <dlfcn.h>

#include <utility>

#include "gateway/plugin_host/backend_error.h"
#include "modelgate/plugin.h"

namespace mg::gateway {

PluginLibrary::PluginLibrary(const std::filesystem::path& path) : path_(path) {
  // RTLD_LOCAL keeps one plugin's symbols from resolving another's; RTLD_NOW surfaces a
  // missing dependency here, at load, rather than at the first call of a request.
  handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle_ == nullptr) {
    const char* why = dlerror();
    throw BackendError(MG_ERROR_NOT_FOUND, why ? why : ("cannot open " + path.string()));
  }
}

PluginLibrary::PluginLibrary(PluginLibrary&& other) noexcept
    : path_(std::move(other.path_)), handle_(std::exchange(other.handle_, nullptr)) {}

PluginLibrary& PluginLibrary::operator=(PluginLibrary&& other) noexcept {
  if (this != &other) {
    if (handle_ != nullptr) dlclose(handle_);
    path_ = std::move(other.path_);
    handle_ = std::exchange(other.handle_, nullptr);
  }
  return *this;
}

PluginLibrary::~PluginLibrary() {
  if (handle_ != nullptr) dlclose(handle_);
}

void* PluginLibrary::symbol(const char* name) const {
  dlerror();  // clear a stale error so a null result is unambiguous
  return dlsym(handle_, name);
}

}  // namespace mg::gateway
