#include "gateway/plugin_host/backend.h"

#include <cstddef>
#include <cstdint>
#include <set>
#include <utility>
#include <vector>

#include "gateway/plugin_host/backend_error.h"
#include "gateway/plugin_host/host_api.h"
#include "gateway/plugin_host/tensor_check.h"

namespace mg::gateway {
namespace {

// Size of the ABI 1.0 function table: a plugin's table must hold at least this much.
constexpr std::size_t kBackendApiSize_1_0 =
    offsetof(MG_BackendApi, instance_execute) + sizeof(MG_BackendApi::instance_execute);
constexpr std::size_t kModelMetadataSize_1_0 =
    offsetof(MG_ModelMetadata, execute_reentrant) + sizeof(MG_ModelMetadata::execute_reentrant);

// What plugin.h promises of every input's data; operator new's (a std::vector's buffer)
// alignment already.
constexpr std::size_t kInputAlignment = 16;
static_assert(__STDCPP_DEFAULT_NEW_ALIGNMENT__ >= kInputAlignment);

// Limits on what a plugin may declare, so a broken plugin cannot make the host allocate
// absurdly or print unbounded names.
constexpr uint32_t kMaxTensors = 1024;
constexpr uint32_t kMaxRank = 32;
constexpr std::size_t kMaxNameLength = 256;

std::string version_text(uint32_t major, uint32_t minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

std::vector<TensorDesc> copy_tensors(const MG_Tensor* tensors, uint32_t count, const char* kind,
                                     int64_t max_batch_size) {
  if (count > kMaxTensors) {
    throw BackendError(MG_ERROR_INVALID_ARGUMENT, "declares " + std::to_string(count) + " " + kind +
                                                      "s (limit " + std::to_string(kMaxTensors) +
                                                      ")");
  }
  if (count > 0 && tensors == nullptr) {
    throw BackendError(MG_ERROR_INVALID_ARGUMENT, std::string("null ") + kind + " array");
  }
  std::vector<TensorDesc> result;
  std::set<std::string> names;
  for (uint32_t i = 0; i < count; ++i) {
    const MG_Tensor& t = tensors[i];
    std::string where = std::string(kind) + " " + std::to_string(i);
    if (t.name == nullptr || t.name[0] == '\0') {
      throw BackendError(MG_ERROR_INVALID_ARGUMENT, where + " has no name");
    }
    std::string name(t.name);
    if (name.size() > kMaxNameLength || !names.insert(name).second) {
      throw BackendError(MG_ERROR_INVALID_ARGUMENT,
                         where + " has an overlong or duplicate name '" + name.substr(0, 64) + "'");
    }
    where = std::string(kind) + " '" + name + "'";
    std::optional<DType> dtype = dtype_from_abi(t.dtype);
    if (!dtype) {
      throw BackendError(MG_ERROR_INVALID_ARGUMENT,
                         where + " has unknown dtype " + std::to_string(t.dtype));
    }
    if (t.rank > kMaxRank || (t.rank > 0 && t.shape == nullptr)) {
      throw BackendError(MG_ERROR_INVALID_ARGUMENT, where + " has a bad rank or null shape");
    }
    std::vector<int64_t> shape(t.shape, t.shape + t.rank);
    for (int64_t dim : shape) {
      if (dim < -1) {
        throw BackendError(MG_ERROR_INVALID_ARGUMENT,
                           where + " has dimension " + std::to_string(dim));
      }
    }
    if (max_batch_size > 0 && (shape.empty() || shape[0] != -1)) {
      throw BackendError(MG_ERROR_INVALID_ARGUMENT,
                         where + ": a batching model must declare dimension 0 as -1");
    }
    result.push_back(TensorDesc{std::move(name), *dtype, std::move(shape)});
  }
  return result;
}

ModelMetadata copy_metadata(const MG_ModelMetadata* metadata) {
  if (metadata == nullptr) throw BackendError(MG_ERROR_INTERNAL, "null metadata");
  if (metadata->struct_size < kModelMetadataSize_1_0) {
    throw BackendError(MG_ERROR_INVALID_ARGUMENT, "metadata struct_size " +
                                                      std::to_string(metadata->struct_size) +
                                                      " is smaller than ABI 1.0's");
  }
  if (metadata->max_batch_size < 0) {
    throw BackendError(MG_ERROR_INVALID_ARGUMENT, "negative max_batch_size");
  }
  ModelMetadata result;
  result.max_batch_size = metadata->max_batch_size;
  result.execute_reentrant = metadata->execute_reentrant != 0;
  result.inputs =
      copy_tensors(metadata->inputs, metadata->input_count, "input", result.max_batch_size);
  result.outputs =
      copy_tensors(metadata->outputs, metadata->output_count, "output", result.max_batch_size);
  if (result.outputs.empty()) throw BackendError(MG_ERROR_INVALID_ARGUMENT, "no outputs");
  return result;
}

}  // namespace

std::string backend_name_from_file(const std::filesystem::path& path) {
  std::string file = path.filename().string();
  const std::string prefix = "libmg_", suffix = ".so";
  if (file.size() <= prefix.size() + suffix.size() || !file.starts_with(prefix) ||
      !file.ends_with(suffix)) {
    return "";
  }
  return file.substr(prefix.size(), file.size() - prefix.size() - suffix.size());
}

// ---- Backend ----------------------------------------------------------------------------

Backend::Backend(PluginLibrary library, const MG_BackendApi* api)
    : library_(std::move(library)), api_(api), name_(api->name), version_(api->version) {}

Backend::~Backend() {
  if (api_->backend_fini != nullptr) api_->backend_fini(state_);
}

std::shared_ptr<Backend> Backend::open(const std::filesystem::path& path,
                                       const std::string& config_json, Declared* seen) {
  const std::string file = path.string();
  auto refuse = [&](int32_t code, const std::string& why) {
    return BackendError(code, file + ": " + why);
  };
  std::string expected_name = backend_name_from_file(path);
  if (expected_name.empty()) {
    throw refuse(MG_ERROR_INVALID_ARGUMENT, "not named libmg_<name>.so");
  }
  std::optional<PluginLibrary> library;
  try {
    library.emplace(path);
  } catch (const BackendError& e) {
    throw refuse(e.code(), e.what());
  }
  auto entry = reinterpret_cast<MG_BackendEntryFn>(library->symbol(MG_BACKEND_ENTRY_SYMBOL));
  if (entry == nullptr) {
    throw refuse(MG_ERROR_NOT_FOUND,
                 "missing entry symbol " MG_BACKEND_ENTRY_SYMBOL " (not a ModelGate backend?)");
  }
  const MG_BackendApi* api = entry();
  if (api == nullptr) throw refuse(MG_ERROR_INTERNAL, "entry returned no function table");
  if (seen) {  // the version fields lead every ABI's table
    seen->abi_major = api->abi_major;
    seen->abi_minor = api->abi_minor;
  }

  // The version check comes before any other use of the table.
  const std::string plugin_abi = version_text(api->abi_major, api->abi_minor);
  const std::string host_abi = version_text(MG_PLUGIN_ABI_MAJOR, MG_PLUGIN_ABI_MINOR);
  if (api->abi_major != MG_PLUGIN_ABI_MAJOR) {
    throw refuse(MG_ERROR_UNSUPPORTED, "plugin ABI " + plugin_abi +
                                           " is incompatible with host ABI " + host_abi +
                                           " (major versions differ)");
  }
  if (api->abi_minor > MG_PLUGIN_ABI_MINOR) {
    throw refuse(MG_ERROR_UNSUPPORTED, "plugin ABI " + plugin_abi + " is newer than host ABI " +
                                           host_abi + " (upgrade the server to use this plugin)");
  }
  if (api->struct_size < kBackendApiSize_1_0) {
    throw refuse(MG_ERROR_INVALID_ARGUMENT,
                 "function table of " + std::to_string(api->struct_size) +
                     " bytes is smaller than ABI " + plugin_abi + " requires");
  }
  if (api->name == nullptr || api->version == nullptr || api->backend_init == nullptr ||
      api->backend_fini == nullptr || api->model_load == nullptr || api->model_unload == nullptr ||
      api->model_metadata == nullptr || api->instance_create == nullptr ||
      api->instance_destroy == nullptr || api->instance_execute == nullptr) {
    throw refuse(MG_ERROR_INVALID_ARGUMENT, "function table has null entries");
  }
  if (expected_name != api->name) {
    throw refuse(MG_ERROR_INVALID_ARGUMENT, "declares backend name '" + std::string(api->name) +
                                                "', expected '" + expected_name +
                                                "' from its file name");
  }

  if (seen) seen->version = api->version;  // safe to read once the table is checked
  MG_Backend* state = nullptr;
  if (MG_Error* error = api->backend_init(host_api(), config_json.c_str(), &state)) {
    Failure failure = take_error(error);
    throw refuse(failure.code, "backend_init failed: " + failure.message);
  }
  auto backend = std::shared_ptr<Backend>(new Backend(std::move(*library), api));
  backend->state_ = state;
  return backend;
}

// ---- Model ------------------------------------------------------------------------------

Model::Model(std::shared_ptr<Backend> backend, std::string name, MG_Model* state)
    : backend_(std::move(backend)), name_(std::move(name)), state_(state) {
  backend_->loaded_models_.fetch_add(1);
}

Model::~Model() {
  backend_->api_->model_unload(state_);
  backend_->loaded_models_.fetch_sub(1);
}

std::shared_ptr<Model> Model::load(std::shared_ptr<Backend> backend, const std::string& name,
                                   std::span<const std::byte> artifact,
                                   const std::string& artifact_path,
                                   const std::string& config_json) {
  if (!backend) throw BackendError(MG_ERROR_INTERNAL, "model '" + name + "': no backend");
  const std::string context = "model '" + name + "' on backend '" + backend->name() + "'";
  const MG_BackendApi* api = backend->api_;
  MG_Model* state = nullptr;
  throw_if_error(api->model_load(backend->state_, artifact.data(), artifact.size(),
                                 artifact_path.c_str(), config_json.c_str(), &state),
                 context + ": load failed");
  // From here the Model owns state: any failure below unloads it.
  auto model = std::shared_ptr<Model>(new Model(std::move(backend), name, state));
  const MG_ModelMetadata* metadata = nullptr;
  throw_if_error(api->model_metadata(state, &metadata), context + ": metadata failed");
  try {
    model->metadata_ = copy_metadata(metadata);
  } catch (const BackendError& e) {
    throw BackendError(e.code(), context + ": bad metadata: " + e.what());
  }
  return model;
}

std::unique_ptr<Instance> Model::create_instance(uint32_t index) {
  MG_Instance* state = nullptr;
  throw_if_error(backend_->api_->instance_create(state_, index, &state),
                 "model '" + name_ + "': instance " + std::to_string(index) + " failed");
  return std::unique_ptr<Instance>(new Instance(shared_from_this(), state));
}

// ---- Instance ---------------------------------------------------------------------------

Instance::Instance(std::shared_ptr<Model> model, MG_Instance* state)
    : model_(std::move(model)), state_(state) {}

Instance::~Instance() { model_->backend_->api_->instance_destroy(state_); }

BatchOutput Instance::execute(const BatchInput& batch) {
  const ModelMetadata& metadata = model_->metadata_;
  if (auto why = check_batch(metadata, batch)) {
    throw BackendError(MG_ERROR_INVALID_ARGUMENT, "model '" + model_->name_ + "': " + *why);
  }
  std::vector<MG_Tensor> inputs;
  inputs.reserve(batch.inputs.size());
  // Backends are promised inputs aligned to 16 bytes (plugin.h). A binary tensor decoded
  // from a request body is a view wherever it falls after the JSON header, so it is copied
  // here if it must be — and only here: a merged batch is in a buffer of its own already,
  // and copying at decoding copied every request of such a batch twice.
  std::vector<std::vector<std::byte>> realigned;
  for (const auto& t : batch.inputs) {
    const void* data = t.data;
    if (t.byte_size > 0 && reinterpret_cast<std::uintptr_t>(data) % kInputAlignment != 0) {
      const auto* bytes = static_cast<const std::byte*>(data);
      data = realigned.emplace_back(bytes, bytes + t.byte_size).data();
    }
    inputs.push_back(MG_Tensor{t.name.c_str(), static_cast<int32_t>(t.dtype),
                               static_cast<uint32_t>(t.shape.size()),
                               t.shape.empty() ? nullptr : t.shape.data(), data, t.byte_size});
  }
  std::vector<const char*> output_names;
  for (const auto& name : batch.outputs) output_names.push_back(name.c_str());
  const MG_Batch c_batch{sizeof(MG_Batch),
                         static_cast<uint32_t>(inputs.size()),
                         inputs.data(),
                         static_cast<uint32_t>(batch.request_rows.size()),
                         batch.request_rows.data(),
                         static_cast<uint32_t>(output_names.size()),
                         output_names.data()};

  MG_ExecuteContext ctx;
  ctx.metadata = &metadata;
  ctx.requested_outputs = &batch.outputs;
  if (metadata.max_batch_size > 0) {
    uint64_t rows = 0;
    for (uint64_t r : batch.request_rows) rows += r;
    ctx.batch_rows = rows;
  }
  ctx.max_output_bytes = max_output_bytes_;
  ctx.request_failures.resize(batch.request_rows.size());

  const MG_BackendApi* api = model_->backend_->api_;
  MG_Error* error;
  if (metadata.execute_reentrant) {
    error = api->instance_execute(state_, &c_batch, &ctx);
  } else {
    std::lock_guard lock(execute_mutex_);
    error = api->instance_execute(state_, &c_batch, &ctx);
  }

  BatchOutput result;
  auto fail_remaining = [&](const Failure& failure) {
    for (auto& f : ctx.request_failures) {
      if (!f) f = failure;
    }
    result.request_failures = std::move(ctx.request_failures);
    return std::move(result);
  };
  if (error != nullptr) {
    result.batch_failure = take_error(error);
    return fail_remaining(*result.batch_failure);
  }

  bool any_succeeded = false;
  for (const auto& f : ctx.request_failures) any_succeeded = any_succeeded || !f;
  if (any_succeeded) {
    const std::string who = "backend '" + model_->backend_->name() + "'";
    auto produced = [&](const std::string& name) -> const OutputTensor* {
      for (const auto& output : ctx.outputs) {
        if (output.name == name) return &output;
      }
      return nullptr;
    };
    std::vector<std::string> required = batch.outputs;
    if (required.empty()) {
      for (const auto& output : metadata.outputs) required.push_back(output.name);
    }
    for (const auto& name : required) {
      const OutputTensor* output = produced(name);
      if (output == nullptr) {
        return fail_remaining({MG_ERROR_INTERNAL, who + " did not produce output '" + name + "'"});
      }
      if (output->dtype == DType::kBytes) {
        uint64_t elements = *element_count(output->shape);
        if (auto why = check_bytes_layout(name, output->data.get(), output->byte_size, elements)) {
          return fail_remaining({MG_ERROR_INTERNAL, who + " wrote a malformed output: " + *why});
        }
      }
    }
    result.outputs = std::move(ctx.outputs);
  }
  result.request_failures = std::move(ctx.request_failures);
  return result;
}

}  // namespace mg::gateway
