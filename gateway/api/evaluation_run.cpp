#include "gateway/api/evaluation_run.h"

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "gateway/api/errors.h"
#include "gateway/api/input_validation.h"
#include "gateway/api/kserve_codec.h"
#include "gateway/api/raw_inputs.h"

namespace mg::gateway {
namespace {

using Clock = std::chrono::steady_clock;

std::string record_text(const DatasetRecord& record) {
  return "record " + std::to_string(record.number);
}

// The request a record stands for, as the data plane receives it.
HttpRequest request_of(const DatasetRecord& record) {
  HttpRequest http;
  http.method = "POST";
  http.body.reserve(record.header.size() + record.binary.size());
  http.body.append(record.header);
  http.body.append(record.binary);
  if (!record.binary.empty()) {
    http.headers.emplace_back("Inference-Header-Content-Length",
                              std::to_string(record.header.size()));
  }
  return http;
}

// The byte range of rows [first, first + count) of a BYTES tensor: its elements are
// serialised as a 4-byte length and the bytes, row after row.
std::span<const std::byte> bytes_rows(const InferInput& input, int64_t first, int64_t count,
                                      const DatasetRecord& record) {
  int64_t per_row = 1;
  for (std::size_t d = 1; d < input.shape.size(); ++d) per_row *= input.shape[d];
  std::size_t offset = 0, begin = 0;
  for (int64_t element = 0; element < (first + count) * per_row; ++element) {
    if (element == first * per_row) begin = offset;
    uint32_t length = 0;
    if (offset + 4 > input.data.size()) {
      throw bad_request(record_text(record) + ": input '" + input.name + "' is truncated");
    }
    std::memcpy(&length, input.data.data() + offset, 4);
    offset += 4 + length;
  }
  if (offset > input.data.size()) {
    throw bad_request(record_text(record) + ": input '" + input.name + "' is truncated");
  }
  return input.data.subspan(begin, offset - begin);
}

// Rows [first, first + count) of a decoded request: views into its tensors.
InferRequest rows_of(const InferRequest& whole, int64_t first, int64_t count,
                     const DatasetRecord& record) {
  InferRequest part;
  for (const InferInput& input : whole.inputs) {
    if (input.shape.empty() || input.shape[0] != whole.inputs[0].shape[0]) {
      throw bad_request(record_text(record) + ": its inputs disagree on dimension 0 (the rows)");
    }
    InferInput slice;
    slice.name = input.name;
    slice.dtype = input.dtype;
    slice.shape = input.shape;
    slice.shape[0] = count;
    slice.from_json = input.from_json;
    if (input.dtype == DType::kBytes) {
      slice.data = bytes_rows(input, first, count, record);
    } else {
      const std::size_t row_bytes = input.data.size() / static_cast<std::size_t>(input.shape[0]);
      slice.data = input.data.subspan(static_cast<std::size_t>(first) * row_bytes,
                                      static_cast<std::size_t>(count) * row_bytes);
    }
    part.inputs.push_back(std::move(slice));
  }
  return part;
}

// Runs one batch of a record — its raw inputs (texts, images) made into tensors first,
// as the data plane does — and appends the scored output's values.
void run_part(LoadedVersion& version, InferRequest part, const std::string& output,
              const DatasetRecord& record, std::vector<float>& values) {
  CheckedRequest checked;
  try {
    prepare_raw_inputs(version.preprocessing(), version.metadata(), part);
    checked = validate_inputs(version.metadata(), part);
  } catch (const ApiError& e) {
    throw ApiError(e.status(), e.code(), record_text(record) + ": " + e.what());
  }
  RequestResult result = version.submit(std::move(checked.inputs), {output}).get();
  if (result.failure) {
    if (result.failure->code == MG_ERROR_INVALID_ARGUMENT) {
      throw bad_request(record_text(record) + ": " + result.failure->message);
    }
    throw ApiError(500, "internal", "the model failed to run " + record_text(record))
        .with_detail(version.model() + "/" + std::to_string(version.version()) + ": " +
                     result.failure->message);
  }
  for (const OutputTensor& out : result.outputs) {
    if (out.name != output) continue;
    if (out.dtype != DType::kFp32) {
      throw bad_request("output '" + output + "' is " + std::string(dtype_name(out.dtype)) +
                        "; evaluation scores an FP32 output (name another with \"output\")");
    }
    const auto* first = reinterpret_cast<const float*>(out.data.get());
    values.insert(values.end(), first, first + out.byte_size / sizeof(float));
  }
}

}  // namespace

EvaluationFigures evaluate_dataset(LoadedVersion& version, std::string_view dataset, uint32_t top_k,
                                   std::size_t max_json_bytes) {
  const ModelMetadata& metadata = version.metadata();
  if (metadata.outputs.empty()) throw bad_request("the model has no outputs to score");
  Scorer scorer(top_k);
  DatasetReader reader(dataset);
  std::vector<float> values;
  const auto started = Clock::now();
  try {
    while (auto record = reader.next()) {
      const std::string output = record->output.empty() ? metadata.outputs[0].name : record->output;
      if (metadata.find_output(output) == nullptr) {
        throw bad_request(record_text(*record) + ": the model has no output '" + output + "'");
      }
      const auto begun = Clock::now();
      const HttpRequest http = request_of(*record);
      InferRequest request;
      try {
        request = decode_infer_request(http, max_json_bytes);
      } catch (const ApiError& e) {
        throw ApiError(e.status(), e.code(), record_text(*record) + ": " + e.what());
      }
      const bool batched = metadata.max_batch_size > 0;
      const int64_t rows = batched && !request.inputs.empty() && !request.inputs[0].shape.empty()
                               ? request.inputs[0].shape[0]
                               : 1;
      values.clear();
      if (!batched || rows <= metadata.max_batch_size) {
        run_part(version, std::move(request), output, *record, values);
      } else {
        for (int64_t first = 0; first < rows; first += metadata.max_batch_size) {
          const int64_t count = std::min(metadata.max_batch_size, rows - first);
          run_part(version, rows_of(request, first, count, *record), output, *record, values);
        }
      }
      const double seconds = std::chrono::duration<double>(Clock::now() - begun).count();
      scorer.add(*record, values, static_cast<std::size_t>(std::max<int64_t>(rows, 1)), seconds);
    }
  } catch (const DatasetError& e) {
    throw bad_request(std::string("the dataset: ") + e.what());
  }
  return scorer.figures(std::chrono::duration<double>(Clock::now() - started).count());
}

}  // namespace mg::gateway
