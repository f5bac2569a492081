/*
 * modelgate/plugin.h — the ModelGate backend C ABI.
 *
 * A backend is a shared library named libmg_<name>.so that exports exactly one symbol,
 * MG_BACKEND_ENTRY_SYMBOL ("mg_backend_entry"). Everything else crosses through two
 * function tables: MG_BackendApi (the plugin's, returned by the entry) and MG_HostApi (the
 * host's, handed to backend_init).
 *
 * Rules that keep this ABI stable (docs/plugin-abi.md is the author's guide):
 *   - C99, no C++ types, no exceptions may propagate out of any function in either table.
 *   - Both tables only ever grow at the end; each appended block is tagged with the ABI
 *     version that added it. Enum values are never reused or renumbered.
 *   - The first three fields of both tables (abi_major, abi_minor, struct_size) are frozen
 *     for every ABI major version, and so is the signature of the entry function.
 *   - The host accepts a plugin when plugin.abi_major == host major and
 *     plugin.abi_minor <= host minor, before calling any function of the plugin's table.
 *     So a plugin may use every host function of the ABI minor it was compiled against.
 *   - Errors are host-allocated MG_Error objects (MG_HostApi.error_new). A function that
 *     returns MG_Error* returns NULL on success. Ownership of a returned error passes to
 *     the caller.
 *   - Memory never crosses allocators: output tensors are written into buffers the host
 *     allocates (MG_HostApi.output_alloc); everything a plugin hands out stays owned by
 *     the plugin and is released by the matching destroy/unload/fini call.
 */
#ifndef MODELGATE_PLUGIN_H_
#define MODELGATE_PLUGIN_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MG_PLUGIN_ABI_MAJOR 1
#define MG_PLUGIN_ABI_MINOR 0

/* The one symbol a plugin exports. */
#define MG_BACKEND_ENTRY_SYMBOL "mg_backend_entry"

#if defined(__GNUC__)
#define MG_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define MG_PLUGIN_EXPORT
#endif

/* ---- Opaque handles ------------------------------------------------------------------ */

/* Host-owned. Created by MG_HostApi.error_new; released by MG_HostApi.error_delete or by
 * the host once a plugin function returned it. */
typedef struct MG_Error MG_Error;
/* Plugin-owned. Created by backend_init, released by backend_fini. */
typedef struct MG_Backend MG_Backend;
/* Plugin-owned. Created by model_load, released by model_unload. */
typedef struct MG_Model MG_Model;
/* Plugin-owned. Created by instance_create, released by instance_destroy. */
typedef struct MG_Instance MG_Instance;
/* Host-owned. Valid only during one instance_execute call; identifies the batch whose
 * outputs and per-request errors the plugin reports through MG_HostApi. */
typedef struct MG_ExecuteContext MG_ExecuteContext;

/* ---- Error codes (int32_t values; never reused) -------------------------------------- */
enum {
  MG_ERROR_UNKNOWN = 1,          /* anything not below */
  MG_ERROR_INTERNAL = 2,         /* a bug or broken invariant in the plugin */
  MG_ERROR_INVALID_ARGUMENT = 3, /* bad config, bad input values, bad model file */
  MG_ERROR_UNSUPPORTED = 4,      /* a valid request the backend cannot serve (e.g. operator) */
  MG_ERROR_NOT_FOUND = 5,        /* a named thing (output, file) does not exist */
  MG_ERROR_OUT_OF_MEMORY = 6,    /* an allocation failed or would exceed a limit */
  MG_ERROR_UNAVAILABLE = 7       /* transient: the caller may retry later */
};

/* ---- Data types: the KServe v2 names (int32_t values; never reused) ------------------ */
enum {
  MG_DTYPE_INVALID = 0,
  MG_DTYPE_BOOL = 1, /* 1 byte per element, 0 or 1 */
  MG_DTYPE_UINT8 = 2,
  MG_DTYPE_UINT16 = 3,
  MG_DTYPE_UINT32 = 4,
  MG_DTYPE_UINT64 = 5,
  MG_DTYPE_INT8 = 6,
  MG_DTYPE_INT16 = 7,
  MG_DTYPE_INT32 = 8,
  MG_DTYPE_INT64 = 9,
  MG_DTYPE_FP16 = 10, /* IEEE 754 binary16 */
  MG_DTYPE_FP32 = 11,
  MG_DTYPE_FP64 = 12,
  /* Variable-length elements, serialised back to back, each as a 4-byte little-endian
   * length followed by that many bytes (the KServe v2 binary extension's layout). */
  MG_DTYPE_BYTES = 13,
  MG_DTYPE_BF16 = 14 /* bfloat16: the upper 16 bits of an FP32 */
};

/* Log levels for MG_HostApi.log. */
enum { MG_LOG_ERROR = 1, MG_LOG_WARN = 2, MG_LOG_INFO = 3, MG_LOG_DEBUG = 4 };

/* ---- Tensors ------------------------------------------------------------------------- */

/* A tensor description: in model metadata (data == NULL, byte_size == 0, shape may hold
 * -1 for a dynamic dimension) or a concrete tensor (every dimension >= 0). All values are
 * little-endian and densely packed in row-major order. Elements' byte size for a fixed
 * size dtype is product(shape) * element size; for BYTES it is the serialised size. */
typedef struct MG_Tensor {
  const char* name;     /* NUL-terminated */
  int32_t dtype;        /* MG_DTYPE_* */
  uint32_t rank;        /* number of entries in shape */
  const int64_t* shape; /* rank entries; NULL when rank == 0 (a scalar) */
  const void* data;     /* NULL in metadata; inputs are aligned to at least 16 bytes */
  uint64_t byte_size;   /* 0 in metadata */
} MG_Tensor;

/* What a loaded model declares. Everything it points to is owned by the model and stays
 * valid and unchanged until model_unload. */
typedef struct MG_ModelMetadata {
  uint32_t struct_size; /* sizeof(MG_ModelMetadata) as the plugin compiled it */
  uint32_t input_count;
  const MG_Tensor* inputs; /* input_count descriptions */
  uint32_t output_count;
  const MG_Tensor* outputs; /* output_count descriptions */
  /* > 0: dimension 0 of every input and output is the batch dimension (declared -1), and
   * the host may merge requests along it up to this many rows per execute call.
   * 0: the model does not batch; every execute call carries exactly one request. */
  int64_t max_batch_size;
  /* Non-zero: instance_execute may be called concurrently on one instance. Zero: the
   * host serialises calls per instance (different instances always run concurrently). */
  int32_t execute_reentrant;
} MG_ModelMetadata;

/* One execute call's inputs. Host-owned, valid only for the duration of the call. */
typedef struct MG_Batch {
  uint32_t struct_size; /* sizeof(MG_Batch) as the host compiled it */
  uint32_t input_count;
  /* One tensor per model input, in any order, matched by name. When the model batches,
   * the requests are already concatenated along dimension 0. */
  const MG_Tensor* inputs;
  /* The batch's requests in order: request i owns request_rows[i] consecutive rows of
   * dimension 0, and the rows sum to dimension 0 of every input. When the model does not
   * batch, request_count is 1 and request_rows[0] is 1. Used to report per-request
   * errors (request_error) and by the host to split outputs back to each request. */
  uint32_t request_count;
  const uint64_t* request_rows;
  /* Outputs to produce, by name; output_count == 0 means every output. A plugin must
   * produce each listed output (and may skip any other). */
  uint32_t output_count;
  const char* const* output_names;
} MG_Batch;

/* ---- The host's table, handed to backend_init --------------------------------------- */

typedef struct MG_HostApi {
  /* --- ABI 1.0 (frozen header) --- */
  uint32_t abi_major;
  uint32_t abi_minor;
  uint32_t struct_size;

  /* --- ABI 1.0 --- */
  /* Creates an error. message is copied (NULL reads as ""). Never returns NULL. The
   * returned error is owned by the caller: return it from a table function (ownership
   * passes to the host) or release it with error_delete. Thread-safe. */
  MG_Error* (*error_new)(int32_t code, const char* message);
  /* Releases an error the plugin owns (e.g. one returned by output_alloc that it chose
   * not to propagate). NULL is a no-op. */
  void (*error_delete)(MG_Error* error);
  /* Read an error. The message stays valid until the error is released. */
  int32_t (*error_code)(const MG_Error* error);
  const char* (*error_message)(const MG_Error* error);

  /* Writes one line to the server log. message is copied. Thread-safe. */
  void (*log)(int32_t level, const char* message);

  /* Allocates the buffer for one output of the batch in ctx. name must be a model output
   * requested by the batch; dtype must match the metadata; shape (rank entries, every
   * entry >= 0, dimension 0 covering the whole batch when the model batches) must agree
   * with the metadata's fixed dimensions. For fixed-size dtypes byte_size must equal
   * product(shape) * element size; for BYTES it is the serialised size.
   * On success *out_data points to byte_size writable bytes, owned by the host and valid
   * until instance_execute returns. Each output may be allocated once per call.
   * Thread-safe for distinct outputs of one ctx. */
  MG_Error* (*output_alloc)(MG_ExecuteContext* ctx, const char* name, int32_t dtype, uint32_t rank,
                            const int64_t* shape, uint64_t byte_size, void** out_data);
  /* Fails request request_index of the batch in ctx alone; the other requests keep their
   * outputs. Takes ownership of error (which must not be NULL). Reporting twice for one
   * request keeps the first error. */
  void (*request_error)(MG_ExecuteContext* ctx, uint32_t request_index, MG_Error* error);
} MG_HostApi;

/* ---- The plugin's table, returned by the entry symbol ------------------------------- */

typedef struct MG_BackendApi {
  /* --- ABI 1.0 (frozen header) --- */
  uint32_t abi_major;   /* MG_PLUGIN_ABI_MAJOR the plugin was compiled against */
  uint32_t abi_minor;   /* MG_PLUGIN_ABI_MINOR the plugin was compiled against */
  uint32_t struct_size; /* sizeof(MG_BackendApi) as the plugin compiled it */

  /* --- ABI 1.0 --- */
  const char* name;    /* backend name ("cpu"); static storage; must match libmg_<name>.so */
  const char* version; /* the backend's own version string; static storage */

  /* Called once, before any other function of this table. host stays valid until
   * backend_fini returns. config_json is a JSON object (never NULL), valid only during
   * the call. On success *out_backend is set (it may be NULL if the backend keeps no
   * state). */
  MG_Error* (*backend_init)(const MG_HostApi* host, const char* config_json,
                            MG_Backend** out_backend);
  /* Called once, last, after every model has been unloaded. */
  void (*backend_fini)(MG_Backend* backend);

  /* Loads a model. artifact/artifact_size are the model file's bytes (possibly decrypted
   * in memory by the host); they are valid only during the call, so copy what you keep.
   * artifact_path is the file's location on disk ("" when there is none): use it only to
   * resolve files that sit beside the model. config_json is the model's JSON config
   * object (never NULL), valid only during the call. Thread-safe across models. */
  MG_Error* (*model_load)(MG_Backend* backend, const void* artifact, uint64_t artifact_size,
                          const char* artifact_path, const char* config_json, MG_Model** out_model);
  /* Releases a model. The host destroys every instance of it first. */
  void (*model_unload)(MG_Model* model);
  /* Sets *out to the model's metadata, owned by the model (see MG_ModelMetadata). */
  MG_Error* (*model_metadata)(MG_Model* model, const MG_ModelMetadata** out);

  /* Creates an execution instance of model; index counts the model's instances from 0.
   * The model outlives its instances. Thread-safe across instances. */
  MG_Error* (*instance_create)(MG_Model* model, uint32_t index, MG_Instance** out_instance);
  void (*instance_destroy)(MG_Instance* instance);

  /* Runs one batch. Outputs go into buffers from host->output_alloc(ctx, ...). A request
   * that cannot be served alone is failed with host->request_error(ctx, i, err). A
   * returned error fails every request of the batch that has no error of its own. On
   * success every requested output must have been allocated and written. Calls on one
   * instance never overlap unless the metadata says execute_reentrant. */
  MG_Error* (*instance_execute)(MG_Instance* instance, const MG_Batch* batch,
                                MG_ExecuteContext* ctx);
} MG_BackendApi;

/* The entry point. Must be callable at any time, have no side effects and return a
 * pointer to a table with static storage duration. This signature is frozen. */
typedef const MG_BackendApi* (*MG_BackendEntryFn)(void);
MG_PLUGIN_EXPORT const MG_BackendApi* mg_backend_entry(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* MODELGATE_PLUGIN_H_ */
