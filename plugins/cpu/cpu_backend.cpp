// libmg_cpu.so: the C ABI surface of the CPU reference backend. Every function converts
// exceptions into MG_Error objects; nothing C++ crosses the boundary.
#include <malloc.h>

#include <cstring>
#include <memory>
#include <new>
#include <string>

#include "modelgate/plugin.h"
#include "plugins/cpu/cpu_error.h"
#include "plugins/cpu/cpu_model.h"
#include "plugins/cpu/executor.h"
#include "plugins/cpu/kernels/gemm.h"

namespace mg::cpu {
namespace {

const MG_HostApi* g_host = nullptr;

int32_t code_of(CpuError::Kind kind) {
  switch (kind) {
    case CpuError::kInvalid:
      return MG_ERROR_INVALID_ARGUMENT;
    case CpuError::kUnsupported:
      return MG_ERROR_UNSUPPORTED;
    case CpuError::kOutOfMemory:
      return MG_ERROR_OUT_OF_MEMORY;
    case CpuError::kInternal:
      break;
  }
  return MG_ERROR_INTERNAL;
}

// Runs body, turning any exception into an MG_Error.
template <typename Body>
MG_Error* guarded(Body&& body) noexcept {
  try {
    body();
    return nullptr;
  } catch (const CpuError& e) {
    return g_host->error_new(code_of(e.kind()), e.what());
  } catch (const std::bad_alloc&) {
    return g_host->error_new(MG_ERROR_OUT_OF_MEMORY, "cpu backend: out of memory");
  } catch (const std::exception& e) {
    return g_host->error_new(MG_ERROR_INTERNAL, (std::string("cpu backend: ") + e.what()).c_str());
  } catch (...) {
    return g_host->error_new(MG_ERROR_INTERNAL, "cpu backend: unknown error");
  }
}

// A load parses the whole model into protobuf objects and runs ONNX's checks and shape
// inference on them before the graph is built: transient memory about the size of the file,
// freed by the time the load returns but kept by malloc as free heap, in RSS. Giving it back
// right away makes a loaded model cost what it holds (bench/cpu_model_memory measures it;
// bench/RESULTS.md has the numbers). Loads and unloads are rare and a trim is cheap next
// to them: it walks the free heap, locking one malloc arena at a time.
void release_freed_memory() noexcept {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

// Per graph output, for one execute: requested, allocated through output_alloc, where.
struct OutputSlots {
  const Graph* graph = nullptr;
  MG_ExecuteContext* ctx = nullptr;
  std::vector<char> wanted, allocated;
  std::vector<std::byte*> buffers;

  // The host's buffer for graph output k (output_alloc checks it against the metadata).
  std::byte* allocate(std::size_t k, ElemType type, const Shape& shape, std::size_t bytes) {
    const std::string& name = graph->values[static_cast<std::size_t>(graph->outputs[k])].name;
    void* data = nullptr;
    if (MG_Error* e =
            g_host->output_alloc(ctx, name.c_str(), to_mg_dtype(type),
                                 static_cast<uint32_t>(shape.size()), shape.data(), bytes, &data)) {
      std::string message = g_host->error_message(e);
      g_host->error_delete(e);
      throw CpuError(CpuError::kInternal, "output '" + name + "': " + message);
    }
    allocated[k] = 1;
    buffers[k] = static_cast<std::byte*>(data);
    return buffers[k];
  }
};

struct Instance {
  const CpuModel* model;
  Executor executor;
  OutputSlots slots;  // reused by every execute (an instance runs one at a time)
};

MG_Error* backend_init(const MG_HostApi* host, const char* config_json, MG_Backend** out) {
  g_host = host;
  *out = nullptr;
  return guarded([&] {
    auto settings = std::make_unique<BackendSettings>(parse_backend_config(config_json));
    warm_up_gemm();
    *out = reinterpret_cast<MG_Backend*>(settings.release());
  });
}

void backend_fini(MG_Backend* backend) { delete reinterpret_cast<BackendSettings*>(backend); }

MG_Error* model_load(MG_Backend* backend, const void* artifact, uint64_t size, const char* path,
                     const char* config_json, MG_Model** out) {
  MG_Error* error = guarded([&] {
    auto bytes = std::span(static_cast<const std::byte*>(artifact), static_cast<std::size_t>(size));
    const auto& settings = *reinterpret_cast<const BackendSettings*>(backend);
    *out =
        reinterpret_cast<MG_Model*>(CpuModel::load(bytes, path, config_json, settings).release());
  });
  release_freed_memory();
  return error;
}

void model_unload(MG_Model* model) {
  delete reinterpret_cast<CpuModel*>(model);
  release_freed_memory();
}

MG_Error* model_metadata(MG_Model* model, const MG_ModelMetadata** out) {
  *out = &reinterpret_cast<CpuModel*>(model)->metadata();
  return nullptr;
}

MG_Error* instance_create(MG_Model* handle, uint32_t, MG_Instance** out) {
  return guarded([&] {
    auto* model = reinterpret_cast<CpuModel*>(handle);
    *out = reinterpret_cast<MG_Instance*>(
        new Instance{model, Executor(model->graph(), model->config().threads)});
  });
}

void instance_destroy(MG_Instance* instance) { delete reinterpret_cast<Instance*>(instance); }

MG_Error* instance_execute(MG_Instance* handle, const MG_Batch* batch, MG_ExecuteContext* ctx) {
  return guarded([&] {
    auto& instance = *reinterpret_cast<Instance*>(handle);
    const Graph& graph = *instance.model->graph();
    // Inputs by name, in graph order; the host has checked dtypes and shapes.
    std::vector<Tensor> inputs(graph.inputs.size());
    for (uint32_t i = 0; i < batch->input_count; ++i) {
      const MG_Tensor& in = batch->inputs[i];
      for (std::size_t k = 0; k < graph.inputs.size(); ++k) {
        if (graph.values[static_cast<std::size_t>(graph.inputs[k])].name != in.name) continue;
        Tensor& t = inputs[k];
        t.type = from_mg_dtype(in.dtype);
        t.shape.assign(in.shape, in.shape + in.rank);
        t.bytes = static_cast<std::byte*>(const_cast<void*>(in.data));  // read-only use
      }
    }
    // Requested outputs are computed straight into the host's buffers: the node that
    // produces one allocates it through output_alloc (Executor::OutputPlacer). Outputs that
    // are views, inputs or constants are copied in at the end.
    const std::size_t count = graph.outputs.size();
    OutputSlots& slots = instance.slots;
    slots.graph = &graph;
    slots.ctx = ctx;
    slots.wanted.assign(count, batch->output_count == 0);
    slots.allocated.assign(count, 0);
    slots.buffers.assign(count, nullptr);
    for (std::size_t k = 0; k < count; ++k) {
      const std::string& name = graph.values[static_cast<std::size_t>(graph.outputs[k])].name;
      for (uint32_t j = 0; j < batch->output_count; ++j) {
        slots.wanted[k] = slots.wanted[k] || name == batch->output_names[j];
      }
    }
    OutputSlots* placing = &slots;  // captured alone: the placer allocates nothing
    const Executor::OutputPlacer place = [placing](std::size_t k, ElemType type, const Shape& shape,
                                                   std::size_t bytes) -> std::byte* {
      if (!placing->wanted[k] || placing->allocated[k]) return nullptr;
      return placing->allocate(k, type, shape, bytes);
    };
    std::vector<Tensor> outputs = instance.executor.run(std::move(inputs), place);
    for (std::size_t k = 0; k < count; ++k) {
      if (!slots.wanted[k]) continue;
      const Tensor& t = outputs[k];
      if (!slots.allocated[k]) slots.allocate(k, t.type, t.shape, t.byte_size());
      if (t.byte_size() > 0 && t.bytes != slots.buffers[k]) {
        std::memcpy(slots.buffers[k], t.bytes, t.byte_size());
      }
    }
  });
}

const MG_BackendApi kApi = {
    .abi_major = MG_PLUGIN_ABI_MAJOR,
    .abi_minor = MG_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(MG_BackendApi),
    .name = "cpu",
    .version = "0.1.0",
    .backend_init = backend_init,
    .backend_fini = backend_fini,
    .model_load = model_load,
    .model_unload = model_unload,
    .model_metadata = model_metadata,
    .instance_create = instance_create,
    .instance_destroy = instance_destroy,
    .instance_execute = instance_execute,
};

}  // namespace
}  // namespace mg::cpu

extern "C" MG_PLUGIN_EXPORT const MG_BackendApi* mg_backend_entry(void) { return &mg::cpu::kApi; }
