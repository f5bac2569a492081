#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gateway/evaluation/scoring.h"
#include "gateway/serving/model_repository.h"

namespace mg::gateway {

// Runs every record of a dataset (docs/evaluation.md) through a loaded version the way the
// data plane runs an inference request — KServe v2 decoding, the version's preprocessing,
// the same input checks, its dynamic batcher — one record at a time, and scores the
// answers. A record with more rows than the model's max batch size is run in batches of
// that size (tensors and raw inputs alike). Throws ApiError: 400 bad_request naming the record for
// one the version cannot run or score, 500 when the model fails.
EvaluationFigures evaluate_dataset(LoadedVersion& version, std::string_view dataset, uint32_t top_k,
                                   std::size_t max_json_bytes);

}  // namespace mg::gateway
