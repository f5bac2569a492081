// Encodes KServe v2 infer responses (JSON, or the binary tensor extension).
#include <charconv>
#include <cmath>
#include <cstring>

#include "gateway/api/json_text.h"
#include "gateway/api/kserve_codec.h"

namespace mg::gateway {
namespace {

// The response is written by hand rather than through a JSON tree: a tensor of N numbers
// would otherwise be N tree nodes, and Boost.JSON prints every float as a double
// ("1.0000000149011612E-1" for 0.1f). Numbers use the shortest text that reads back to
// the same value of their own type (std::to_chars); NaN and infinities, which JSON cannot
// express, are written as null.
void append_string(std::string& out, std::string_view text) {
  out += '"';
  put_json_text(text, [&out](std::string_view piece) { out += piece; });
  out += '"';
}

template <typename T>
void append_number(std::string& out, T value) {
  if constexpr (std::is_floating_point_v<T>) {
    if (!std::isfinite(value)) {
      out += "null";
      return;
    }
  }
  char buffer[64];
  const auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, error == std::errc() ? end : buffer);
}

template <typename T>
void append_numbers(std::string& out, std::span<const std::byte> bytes) {
  const std::size_t count = bytes.size() / sizeof(T);
  for (std::size_t i = 0; i < count; ++i) {
    T value;
    std::memcpy(&value, bytes.data() + i * sizeof(T), sizeof(T));
    if (i > 0) out += ',';
    if constexpr (sizeof(T) == 1 && std::is_signed_v<T>) {
      append_number(out, static_cast<int>(value));
    } else if constexpr (sizeof(T) == 1) {
      append_number(out, static_cast<unsigned>(value));
    } else {
      append_number(out, value);
    }
  }
}

// The "data" array of a JSON output.
void append_data(std::string& out, const InferOutput& output) {
  const auto bytes = output.data;
  out += '[';
  switch (output.dtype) {
    case DType::kBool:
      for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (i > 0) out += ',';
        out += bytes[i] != std::byte{0} ? "true" : "false";
      }
      break;
    case DType::kUint8:
      append_numbers<uint8_t>(out, bytes);
      break;
    case DType::kUint16:
      append_numbers<uint16_t>(out, bytes);
      break;
    case DType::kUint32:
      append_numbers<uint32_t>(out, bytes);
      break;
    case DType::kUint64:
      append_numbers<uint64_t>(out, bytes);
      break;
    case DType::kInt8:
      append_numbers<int8_t>(out, bytes);
      break;
    case DType::kInt16:
      append_numbers<int16_t>(out, bytes);
      break;
    case DType::kInt32:
      append_numbers<int32_t>(out, bytes);
      break;
    case DType::kInt64:
      append_numbers<int64_t>(out, bytes);
      break;
    case DType::kFp32:
      append_numbers<float>(out, bytes);
      break;
    case DType::kFp64:
      append_numbers<double>(out, bytes);
      break;
    case DType::kBytes:
      for (std::size_t at = 0; at + 4 <= bytes.size();) {
        uint32_t length;
        std::memcpy(&length, bytes.data() + at, 4);
        if (at > 0) out += ',';
        const std::string_view element(reinterpret_cast<const char*>(bytes.data() + at + 4),
                                       std::min<std::size_t>(length, bytes.size() - at - 4));
        if (output.json_elements) {
          out += element;  // JSON the server wrote itself
        } else {
          append_string(out, element);
        }
        at += 4 + length;
      }
      break;
    default:
      break;  // FP16/BF16 are only ever sent binary (see encode_infer_response)
  }
  out += ']';
}

}  // namespace

HttpResponse encode_infer_response(const std::string& model, int64_t version, const std::string& id,
                                   const std::vector<InferOutput>& outputs) {
  HttpResponse response;
  std::string& out = response.body;
  std::size_t estimate = 128;
  for (const auto& output : outputs) estimate += 96 + output.data.size() * 4;
  out.reserve(estimate);
  out += "{\"model_name\":";
  append_string(out, model);
  out += ",\"model_version\":\"";
  append_number(out, version);
  out += '"';
  if (!id.empty()) {
    out += ",\"id\":";
    append_string(out, id);
  }
  out += ",\"outputs\":[";
  // Binary outputs' bytes follow the JSON header, in order: appended once it is complete
  // (no second buffer, no temporary strings: this runs for every answer).
  std::size_t binary_bytes = 0;
  const auto as_binary = [](const InferOutput& output) {
    return output.binary || output.dtype == DType::kFp16 || output.dtype == DType::kBf16;
  };
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const InferOutput& output = outputs[i];
    out += i > 0 ? ",{\"name\":" : "{\"name\":";
    append_string(out, output.name);
    out += ",\"datatype\":\"";
    out += dtype_name(output.dtype);
    out += "\",\"shape\":[";
    for (std::size_t d = 0; d < output.shape.size(); ++d) {
      if (d > 0) out += ',';
      append_number(out, output.shape[d]);
    }
    out += ']';
    if (as_binary(output)) {
      out += ",\"parameters\":{\"binary_data_size\":";
      append_number(out, static_cast<int64_t>(output.data.size()));
      out += "}}";
      binary_bytes += output.data.size();
    } else {
      out += ",\"data\":";
      append_data(out, output);
      out += '}';
    }
  }
  out += "]}";
  if (binary_bytes > 0) {
    response.headers.reserve(2);  // this and the request id (router.cpp's finish)
    response.headers.emplace_back("Inference-Header-Content-Length", std::to_string(out.size()));
    out.reserve(out.size() + binary_bytes);
    for (const auto& output : outputs) {
      if (as_binary(output)) {
        out.append(reinterpret_cast<const char*>(output.data.data()), output.data.size());
      }
    }
    response.content_type = "application/octet-stream";
  }
  return response;
}

}  // namespace mg::gateway
