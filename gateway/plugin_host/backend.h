#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <span>
#include <string>

#include "gateway/plugin_host/plugin_library.h"
#include "gateway/plugin_host/tensor.h"
#include "modelgate/plugin.h"

namespace mg::gateway {

// "libmg_cpu.so" → "cpu"; "" when the file name is not of that form.
std::string backend_name_from_file(const std::filesystem::path& path);

// An initialised plugin. Shared by the BackendManager and every Model loaded through it,
// so the library stays mapped while any of its models lives. Destruction calls
// backend_fini, then dlclose.
class Backend {
 public:
  // Opens libmg_<name>.so at `path`, checks its ABI version before calling anything else
  // and runs backend_init with `config_json`. Throws BackendError whose message names the
  // file (and, on a version mismatch, both versions). `seen`, when given, receives the ABI
  // version and backend version the plugin declared as soon as they are known, so a
  // plugin refused later (say, its backend_init failed) can still be reported with them.
  struct Declared {
    uint32_t abi_major = 0, abi_minor = 0;
    std::string version;
  };
  static std::shared_ptr<Backend> open(const std::filesystem::path& path,
                                       const std::string& config_json, Declared* seen = nullptr);
  ~Backend();
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  const std::string& name() const { return name_; }
  const std::string& version() const { return version_; }
  const std::filesystem::path& path() const { return library_.path(); }
  uint32_t abi_major() const { return api_->abi_major; }
  uint32_t abi_minor() const { return api_->abi_minor; }
  // Models of this backend alive right now.
  int loaded_models() const { return loaded_models_.load(); }

 private:
  friend class Model;
  friend class Instance;
  Backend(PluginLibrary library, const MG_BackendApi* api);

  PluginLibrary library_;  // declared first: destroyed last, after backend_fini
  const MG_BackendApi* api_;
  std::string name_;
  std::string version_;
  MG_Backend* state_ = nullptr;
  std::atomic<int> loaded_models_{0};
};

class Instance;

// A model loaded by a backend, with a host-owned copy of its metadata.
class Model : public std::enable_shared_from_this<Model> {
 public:
  // Calls model_load and model_metadata and checks the metadata (names, dtypes, shapes,
  // batch dimension). Throws BackendError naming `name` on any failure.
  static std::shared_ptr<Model> load(std::shared_ptr<Backend> backend, const std::string& name,
                                     std::span<const std::byte> artifact,
                                     const std::string& artifact_path,
                                     const std::string& config_json);
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const std::string& name() const { return name_; }
  const ModelMetadata& metadata() const { return metadata_; }
  const Backend& backend() const { return *backend_; }

  // A new execution instance; it keeps this model alive. Throws BackendError.
  std::unique_ptr<Instance> create_instance(uint32_t index);

 private:
  friend class Instance;
  Model(std::shared_ptr<Backend> backend, std::string name, MG_Model* state);

  std::shared_ptr<Backend> backend_;
  std::string name_;
  MG_Model* state_;
  ModelMetadata metadata_;
};

// One execution instance of a model. Calls to execute on a non-reentrant instance are
// serialised here, so callers may share an instance between threads.
class Instance {
 public:
  ~Instance();
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  // Runs one batch. A malformed batch (see check_batch) throws BackendError with
  // MG_ERROR_INVALID_ARGUMENT before the plugin sees it. Plugin failures come back in
  // request_failures (a whole-batch error fills every entry); a plugin that breaks the
  // output contract fails every request with MG_ERROR_INTERNAL.
  BatchOutput execute(const BatchInput& batch);

  // Largest single output a plugin may allocate (default 1 GiB).
  void set_max_output_bytes(uint64_t bytes) { max_output_bytes_ = bytes; }

 private:
  friend class Model;
  Instance(std::shared_ptr<Model> model, MG_Instance* state);

  std::shared_ptr<Model> model_;
  MG_Instance* state_;
  std::mutex execute_mutex_;  // held around execute unless the model is reentrant
  uint64_t max_output_bytes_ = uint64_t{1} << 30;
};

}  // namespace mg::gateway
