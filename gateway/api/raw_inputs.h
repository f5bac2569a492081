#pragma once

#include "gateway/api/kserve_codec.h"
#include "gateway/plugin_host/tensor.h"
#include "gateway/preprocess/preprocessing.h"

namespace mg::gateway {

// A request's raw inputs made into the tensors they stand for (docs/preprocessing.md): an
// input the version preprocesses, sent as a BYTES tensor of N encoded images (shape [N];
// over JSON each element in base64), becomes the model's FP32 tensor of N rows. The same
// input sent as that tensor is left as it is. 400 bad_request naming the input and the
// image for one that cannot be used (not PNG or JPEG, corrupt, too large, CMYK).
void prepare_raw_inputs(const Preprocessing& preprocessing, const ModelMetadata& metadata,
                        InferRequest& request);

}  // namespace mg::gateway
