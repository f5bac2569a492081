#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "gateway/http/http_types.h"
#include "gateway/plugin_host/tensor.h"

namespace mg::gateway {

// One input of a KServe v2 inference request. Its bytes are either decoded from JSON into
// `owned`, or point into the request body (binary tensor extension); `data` is the view.
struct InferInput {
  std::string name;
  DType dtype = DType::kInvalid;
  std::vector<int64_t> shape;
  std::vector<std::byte> owned;
  std::span<const std::byte> data;
  bool from_json = false;  // decoded from JSON "data" (BYTES elements were JSON strings)
};

struct RequestedOutput {
  std::string name;
  bool binary = false;          // parameters.binary_data
  uint32_t classification = 0;  // parameters.classification: the top K classes, as BYTES
  // parameters.classification_format "object": each class a JSON object {"index", "label",
  // "score"} (in a JSON answer, the object itself) rather than Triton's "score:index:label".
  bool classification_objects = false;
};

struct InferRequest {
  std::string id;
  std::vector<InferInput> inputs;
  std::vector<RequestedOutput> outputs;  // empty: every output
  bool binary_outputs = false;           // parameters.binary_data_output
};

// Decodes a KServe v2 infer request: JSON tensors (flat or nested "data") and the binary
// tensor extension (Inference-Header-Content-Length, parameters.binary_data_size).
// Throws ApiError(400 bad_request) naming the input and what was expected. The result may
// point into request.body, which must outlive it.
// 413 payload_too_large when the JSON part (the whole body, or the part
// Inference-Header-Content-Length names) passes `max_json_bytes`: decoding JSON costs
// ~13x its size in memory, so large tensors go in the binary extension instead.
InferRequest decode_infer_request(const HttpRequest& request,
                                  std::size_t max_json_bytes = std::size_t{8} << 20);
// The length of the request's JSON part (see above); 400 when the header is malformed.
std::size_t json_part_length(const HttpRequest& request);
// The same decoding, for a caller that has read json_part_length already (finding the
// header among the request's takes as long as the rest of a small binary request's head).
InferRequest decode_infer_request(const HttpRequest& request, std::size_t json_length,
                                  std::size_t max_json_bytes);

// A response's outputs, one per produced tensor, each already cut to this request.
struct InferOutput {
  std::string name;
  DType dtype = DType::kInvalid;
  std::vector<int64_t> shape;
  std::span<const std::byte> data;
  bool binary = false;
  // BYTES elements that are JSON texts the server wrote: a JSON answer carries them as JSON
  // values, not strings (the classification extension's object form).
  bool json_elements = false;
};

// {"model_name", "model_version", "id", "outputs": [...]} with JSON data, or the binary
// extension (JSON header + raw tensors, Inference-Header-Content-Length) when any output
// is binary.
HttpResponse encode_infer_response(const std::string& model, int64_t version, const std::string& id,
                                   const std::vector<InferOutput>& outputs);

}  // namespace mg::gateway
