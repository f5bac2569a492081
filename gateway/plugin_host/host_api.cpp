#include "gateway/plugin_host/host_api.h"

#include <algorithm>
#include <exception>
#include <memory>
#include <new>

#include "common/log.h"
#include "gateway/plugin_host/tensor_check.h"

namespace mg::gateway {
namespace {

// Returned when even an error cannot be allocated; never freed.
MG_Error out_of_memory_error{MG_ERROR_OUT_OF_MEMORY, "out of memory creating an error"};

MG_Error* new_error(int32_t code, const char* message) noexcept {
  try {
    return new MG_Error{code, message ? message : ""};
  } catch (...) {
    // Out of memory while reporting an error: a static object the host recognises and
    // never frees keeps error_new's "never returns NULL" promise.
    return &out_of_memory_error;
  }
}

void delete_error(MG_Error* error) noexcept {
  if (error != nullptr && error != &out_of_memory_error) delete error;
}

int32_t error_code(const MG_Error* error) noexcept {
  return error ? error->code : MG_ERROR_INTERNAL;
}

const char* error_message(const MG_Error* error) noexcept {
  return error ? error->message.c_str() : "";
}

void plugin_log(int32_t level, const char* message) noexcept {
  try {
    LogLevel l = (level >= MG_LOG_ERROR && level <= MG_LOG_DEBUG) ? static_cast<LogLevel>(level)
                                                                  : LogLevel::kInfo;
    log(l, message ? message : "");
  } catch (...) {
    // Logging must never throw into a plugin; a lost line is the lesser harm.
  }
}

MG_Error* check_output(const MG_ExecuteContext& ctx, const std::string& name, int32_t dtype,
                       const std::vector<int64_t>& shape, uint64_t byte_size) {
  const TensorDesc* declared = ctx.metadata->find_output(name);
  if (declared == nullptr) {
    return new_error(MG_ERROR_NOT_FOUND, ("model has no output '" + name + "'").c_str());
  }
  const auto& wanted = *ctx.requested_outputs;
  if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), name) == wanted.end()) {
    return new_error(MG_ERROR_INVALID_ARGUMENT,
                     ("output '" + name + "' was not requested in this batch").c_str());
  }
  for (const auto& output : ctx.outputs) {
    if (output.name == name) {
      return new_error(MG_ERROR_INVALID_ARGUMENT,
                       ("output '" + name + "' allocated twice").c_str());
    }
  }
  if (byte_size > ctx.max_output_bytes) {
    return new_error(MG_ERROR_OUT_OF_MEMORY,
                     ("output '" + name + "' of " + std::to_string(byte_size) +
                      " bytes exceeds the limit of " + std::to_string(ctx.max_output_bytes))
                         .c_str());
  }
  auto actual_dtype = static_cast<DType>(dtype);
  if (auto why = check_shape(*declared, actual_dtype, shape, ctx.batch_rows)) {
    return new_error(MG_ERROR_INVALID_ARGUMENT, ("output " + *why).c_str());
  }
  // A BYTES output's layout is only known once written; the host checks it after execute.
  if (declared->dtype != DType::kBytes) {
    uint64_t expected = *element_count(shape) * dtype_size(declared->dtype);
    if (byte_size != expected) {
      return new_error(MG_ERROR_INVALID_ARGUMENT,
                       ("output '" + name + "' needs " + std::to_string(expected) +
                        " bytes for its shape, got " + std::to_string(byte_size))
                           .c_str());
    }
  }
  return nullptr;
}

MG_Error* output_alloc(MG_ExecuteContext* ctx, const char* name, int32_t dtype, uint32_t rank,
                       const int64_t* shape, uint64_t byte_size, void** out_data) noexcept {
  if (out_data != nullptr) *out_data = nullptr;
  if (ctx == nullptr || name == nullptr || out_data == nullptr || (rank > 0 && shape == nullptr)) {
    return new_error(MG_ERROR_INVALID_ARGUMENT, "output_alloc: null argument");
  }
  try {
    std::vector<int64_t> dims(shape, shape + rank);
    std::lock_guard lock(ctx->mutex);
    if (MG_Error* error = check_output(*ctx, name, dtype, dims, byte_size)) return error;
    // Zero-filled, not merely allocated: a plugin that leaves part of an output unwritten
    // must return zeros, never old heap contents (another request's data).
    OutputTensor output{name, static_cast<DType>(dtype), std::move(dims),
                        std::make_unique<std::byte[]>(byte_size), byte_size};
    *out_data = output.data.get();
    ctx->outputs.push_back(std::move(output));
    return nullptr;
  } catch (const std::bad_alloc&) {
    return new_error(MG_ERROR_OUT_OF_MEMORY, "output_alloc: out of memory");
  } catch (const std::exception& e) {
    return new_error(MG_ERROR_INTERNAL, e.what());
  }
}

void request_error(MG_ExecuteContext* ctx, uint32_t request_index, MG_Error* error) noexcept {
  if (error == nullptr) return;
  if (ctx == nullptr) {
    delete_error(error);
    return;
  }
  try {
    std::lock_guard lock(ctx->mutex);
    if (request_index < ctx->request_failures.size() && !ctx->request_failures[request_index]) {
      ctx->request_failures[request_index] = Failure{error->code, error->message};
    }
  } catch (...) {
    // Copying the message failed: the request still fails, with a generic message.
    if (request_index < ctx->request_failures.size()) {
      ctx->request_failures[request_index] = Failure{MG_ERROR_OUT_OF_MEMORY, "out of memory"};
    }
  }
  delete_error(error);
}

const MG_HostApi kHostApi = {
    MG_PLUGIN_ABI_MAJOR, MG_PLUGIN_ABI_MINOR, sizeof(MG_HostApi), new_error,    delete_error,
    error_code,          error_message,       plugin_log,         output_alloc, request_error,
};

}  // namespace

const MG_HostApi* host_api() { return &kHostApi; }

Failure take_error(MG_Error* error) {
  if (error == nullptr) return Failure{MG_ERROR_INTERNAL, "no error object"};
  Failure failure{error->code, error->message};
  delete_error(error);
  return failure;
}

void throw_if_error(MG_Error* error, const std::string& context) {
  if (error == nullptr) return;
  Failure failure = take_error(error);
  throw BackendError(failure.code, context + ": " + failure.message);
}

}  // namespace mg::gateway
