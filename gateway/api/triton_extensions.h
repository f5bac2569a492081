#pragma once

// Triton's HTTP extensions beside KServe v2 (docs/http-api.md "Triton extensions"): the
// model configuration, statistics and the model repository. Triton's clients
// (tritonclient's get_model_config, get_inference_statistics, get_model_repository_index,
// load_model, unload_model) call them unchanged.

#include "gateway/api/data_plane.h"

namespace mg::gateway {

// GET /v2/models/{model}[/versions/{version}]/config: the loaded version's configuration
// in Triton's field names (max_batch_size, input, output, dynamic_batching,
// instance_group, backend), plus the model's own config as stored.
HttpResponse model_config(DataCall& call);
// GET /v2/models/stats, /v2/models/{model}/stats, /v2/models/{model}/versions/{v}/stats:
// Triton's statistics of every loaded version named (all those the key may use).
HttpResponse model_stats(DataCall& call);
// POST /v2/repository/index (admin scope): every version not retired, READY or UNAVAILABLE
// with the reason; body {"ready": true} lists the ready ones only.
HttpResponse repository_index(DataCall& call);
// POST /v2/repository/models/{model}/load | unload (admin scope): loads the versions the
// model's aliases point at (those loaded already stay as they are) | unloads every loaded
// version of the model. The same loads and unloads as the admin API's, audited alike.
HttpResponse repository_load(DataCall& call);
HttpResponse repository_unload(DataCall& call);

}  // namespace mg::gateway
