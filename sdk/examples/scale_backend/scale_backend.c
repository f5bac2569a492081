/*
 * scale — a complete ModelGate backend in plain C99, written against modelgate/plugin.h.
 *
 * Its "model" multiplies an FP32 tensor by a factor: input "x" FP32 [-1, -1], output
 * "y" = factor * x with the same shape, batching up to 64 rows. The artifact is ignored
 * except that it must not be empty; the factor comes from the model config JSON,
 * {"factor": 2.5}. A request holding a NaN fails alone (a per-request error); the other
 * requests of its batch are still answered.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modelgate/plugin.h"

/* The host's table, kept from backend_init until backend_fini. */
static const MG_HostApi* host;

typedef struct ScaleModel {
  float factor;
  MG_Tensor inputs[1];
  MG_Tensor outputs[1];
  MG_ModelMetadata metadata;
} ScaleModel;

static const int64_t kShape[2] = {-1, -1};

static MG_Error* scale_init(const MG_HostApi* h, const char* config_json, MG_Backend** out) {
  (void)config_json;
  host = h;
  *out = NULL; /* no backend-wide state */
  host->log(MG_LOG_INFO, "scale backend initialised");
  return NULL;
}

static void scale_fini(MG_Backend* backend) {
  (void)backend;
  host = NULL;
}

/* Reads the number after "factor": in config_json. Returns 0 when absent or malformed. */
static int parse_factor(const char* config_json, float* factor) {
  const char* at = strstr(config_json, "\"factor\"");
  char* end = NULL;
  double value;
  if (at == NULL) return 0;
  at = strchr(at + 8, ':');
  if (at == NULL) return 0;
  value = strtod(at + 1, &end);
  if (end == at + 1 || !isfinite(value)) return 0;
  *factor = (float)value;
  return 1;
}

static MG_Error* scale_load(MG_Backend* backend, const void* artifact, uint64_t artifact_size,
                            const char* artifact_path, const char* config_json, MG_Model** out) {
  ScaleModel* model;
  (void)backend;
  (void)artifact;
  (void)artifact_path;
  if (artifact_size == 0) return host->error_new(MG_ERROR_INVALID_ARGUMENT, "empty artifact");
  model = (ScaleModel*)calloc(1, sizeof *model);
  if (model == NULL) return host->error_new(MG_ERROR_OUT_OF_MEMORY, "out of memory");
  if (!parse_factor(config_json, &model->factor)) {
    free(model);
    return host->error_new(MG_ERROR_INVALID_ARGUMENT,
                           "model config needs a finite number \"factor\", e.g. {\"factor\": 2}");
  }
  model->inputs[0].name = "x";
  model->inputs[0].dtype = MG_DTYPE_FP32;
  model->inputs[0].rank = 2;
  model->inputs[0].shape = kShape;
  model->outputs[0] = model->inputs[0];
  model->outputs[0].name = "y";
  model->metadata.struct_size = sizeof model->metadata;
  model->metadata.input_count = 1;
  model->metadata.inputs = model->inputs;
  model->metadata.output_count = 1;
  model->metadata.outputs = model->outputs;
  model->metadata.max_batch_size = 64;
  model->metadata.execute_reentrant = 1; /* execute keeps no per-call state */
  *out = (MG_Model*)model;
  return NULL;
}

static void scale_unload(MG_Model* model) { free(model); }

static MG_Error* scale_metadata(MG_Model* model, const MG_ModelMetadata** out) {
  *out = &((ScaleModel*)model)->metadata;
  return NULL;
}

/* The instance is the model itself: there is no per-instance state. */
static MG_Error* scale_instance_create(MG_Model* model, uint32_t index, MG_Instance** out) {
  (void)index;
  *out = (MG_Instance*)model;
  return NULL;
}

static void scale_instance_destroy(MG_Instance* instance) { (void)instance; }

static MG_Error* scale_execute(MG_Instance* instance, const MG_Batch* batch,
                               MG_ExecuteContext* ctx) {
  const ScaleModel* model = (const ScaleModel*)instance;
  const MG_Tensor* x = &batch->inputs[0]; /* the host checked names, dtypes and shapes */
  const float* in = (const float*)x->data;
  const uint64_t count = x->byte_size / sizeof(float);
  const uint64_t row_size = x->shape[0] > 0 ? count / (uint64_t)x->shape[0] : 0;
  uint64_t i, row = 0;
  uint32_t r;
  void* data = NULL;
  float* out;
  MG_Error* err =
      host->output_alloc(ctx, "y", MG_DTYPE_FP32, x->rank, x->shape, x->byte_size, &data);
  if (err != NULL) return err; /* ownership passes back to the host */
  out = (float*)data;
  for (i = 0; i < count; ++i) out[i] = model->factor * in[i];

  for (r = 0; r < batch->request_count; ++r) {
    for (i = row * row_size; i < (row + batch->request_rows[r]) * row_size; ++i) {
      if (isnan(in[i])) {
        char message[96];
        snprintf(message, sizeof message, "input 'x' of request %u holds NaN", (unsigned)r);
        host->request_error(ctx, r, host->error_new(MG_ERROR_INVALID_ARGUMENT, message));
        break;
      }
    }
    row += batch->request_rows[r];
  }
  return NULL;
}

/* Designated initialisers name every field, so the table reads as the contract does. */
static const MG_BackendApi kScaleApi = {
    .abi_major = MG_PLUGIN_ABI_MAJOR,
    .abi_minor = MG_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(MG_BackendApi),
    .name = "scale",
    .version = "1.0.0",
    .backend_init = scale_init,
    .backend_fini = scale_fini,
    .model_load = scale_load,
    .model_unload = scale_unload,
    .model_metadata = scale_metadata,
    .instance_create = scale_instance_create,
    .instance_destroy = scale_instance_destroy,
    .instance_execute = scale_execute,
};

MG_PLUGIN_EXPORT const MG_BackendApi* mg_backend_entry(void) { return &kScaleApi; }
