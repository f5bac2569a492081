#include "api/kserve_codec.h"

#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "api/errors.h"
#include "plugin_host/tensor_check.h"

namespace mg::gateway {
namespace {

// What MG_Tensor promises backends about input data (operator new gives at least this).
constexpr std::uintptr_t kInputAlignment = 16;

namespace json = boost::json;

// The JSON part of a request is small; a cap keeps a hostile one from nesting or
// allocating without bound (binary tensors are not part of it).
constexpr std::size_t kMaxJsonDepth = 64;

const json::object& as_object(const json::value& v, const std::string& what) {
  if (!v.is_object()) throw bad_request(what + " must be a JSON object");
  return v.as_object();
}

std::string string_field(const json::object& o, const char* key, const std::string& what,
                         bool required) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) {
    if (required) throw bad_request(what + " has no \"" + key + "\"");
    return "";
  }
  if (!v->is_string()) throw bad_request(what + ": \"" + key + "\" must be a string");
  return std::string(v->as_string());
}

bool bool_parameter(const json::object& o, const char* key) {
  const json::value* params = o.if_contains("parameters");
  if (params == nullptr || !params->is_object()) return false;
  const json::value* v = params->as_object().if_contains(key);
  return v != nullptr && v->is_bool() && v->as_bool();
}

// Appends the leaves of a flat or nested JSON array, in row-major order.
void flatten(const json::value& v, std::vector<const json::value*>& leaves, std::size_t depth,
             const std::string& what) {
  if (depth > kMaxJsonDepth) throw bad_request(what + ": \"data\" is nested too deeply");
  if (v.is_array()) {
    for (const auto& item : v.as_array()) flatten(item, leaves, depth + 1, what);
  } else {
    leaves.push_back(&v);
  }
}

template <typename T>
void put(std::vector<std::byte>& out, T value) {
  const auto* p = reinterpret_cast<const std::byte*>(&value);
  out.insert(out.end(), p, p + sizeof(T));
}

// One JSON number as T, refusing values T cannot hold.
template <typename T>
T number_as(const json::value& v, const std::string& what, std::size_t index) {
  auto fail = [&](const char* why) -> T {
    throw bad_request(what + ": element " + std::to_string(index) + " " + why);
  };
  if constexpr (std::is_floating_point_v<T>) {
    if (v.is_double()) return static_cast<T>(v.as_double());
    if (v.is_int64()) return static_cast<T>(v.as_int64());
    if (v.is_uint64()) return static_cast<T>(v.as_uint64());
    return fail("is not a number");
  } else {
    if (v.is_int64()) {
      int64_t x = v.as_int64();
      if (x < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
          (x > 0 &&
           static_cast<uint64_t>(x) > static_cast<uint64_t>(std::numeric_limits<T>::max()))) {
        return fail("is out of range for the datatype");
      }
      return static_cast<T>(x);
    }
    if (v.is_uint64()) {
      if (v.as_uint64() > static_cast<uint64_t>(std::numeric_limits<T>::max())) {
        return fail("is out of range for the datatype");
      }
      return static_cast<T>(v.as_uint64());
    }
    return fail("is not an integer");
  }
}

template <typename T>
void encode_numbers(const std::vector<const json::value*>& leaves, std::vector<std::byte>& out,
                    const std::string& what) {
  out.reserve(leaves.size() * sizeof(T));
  for (std::size_t i = 0; i < leaves.size(); ++i) put<T>(out, number_as<T>(*leaves[i], what, i));
}

void encode_json_data(InferInput& input, const json::value& data, const std::string& what) {
  std::vector<const json::value*> leaves;
  flatten(data, leaves, 0, what);
  const std::optional<uint64_t> count = element_count(input.shape);
  if (!count) throw bad_request(what + ": shape has negative or too many elements");
  if (leaves.size() != *count) {
    throw bad_request(what + ": shape needs " + std::to_string(*count) +
                      " elements, \"data\" has " + std::to_string(leaves.size()));
  }
  auto& out = input.owned;
  switch (input.dtype) {
    case DType::kBool:
      for (std::size_t i = 0; i < leaves.size(); ++i) {
        if (!leaves[i]->is_bool())
          throw bad_request(what + ": element " + std::to_string(i) + " is not a boolean");
        put<uint8_t>(out, leaves[i]->as_bool() ? 1 : 0);
      }
      break;
    case DType::kUint8:
      encode_numbers<uint8_t>(leaves, out, what);
      break;
    case DType::kUint16:
      encode_numbers<uint16_t>(leaves, out, what);
      break;
    case DType::kUint32:
      encode_numbers<uint32_t>(leaves, out, what);
      break;
    case DType::kUint64:
      encode_numbers<uint64_t>(leaves, out, what);
      break;
    case DType::kInt8:
      encode_numbers<int8_t>(leaves, out, what);
      break;
    case DType::kInt16:
      encode_numbers<int16_t>(leaves, out, what);
      break;
    case DType::kInt32:
      encode_numbers<int32_t>(leaves, out, what);
      break;
    case DType::kInt64:
      encode_numbers<int64_t>(leaves, out, what);
      break;
    case DType::kFp32:
      encode_numbers<float>(leaves, out, what);
      break;
    case DType::kFp64:
      encode_numbers<double>(leaves, out, what);
      break;
    case DType::kBytes:
      for (std::size_t i = 0; i < leaves.size(); ++i) {
        if (!leaves[i]->is_string())
          throw bad_request(what + ": element " + std::to_string(i) + " is not a string");
        const auto& s = leaves[i]->as_string();
        put<uint32_t>(out, static_cast<uint32_t>(s.size()));
        const auto* p = reinterpret_cast<const std::byte*>(s.data());
        out.insert(out.end(), p, p + s.size());
      }
      break;
    default:
      throw bad_request(what + ": datatype " + std::string(dtype_name(input.dtype)) +
                        " has no JSON form; send it with the binary tensor extension");
  }
  input.data = input.owned;
}

std::size_t header_length(const HttpRequest& request) {
  std::string_view text = request.header("Inference-Header-Content-Length");
  if (text.empty()) return request.body.size();
  std::size_t length = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), length);
  if (ec != std::errc() || ptr != text.data() + text.size() || length > request.body.size()) {
    throw bad_request("Inference-Header-Content-Length '" + std::string(text) +
                      "' is not a length within the body");
  }
  return length;
}

}  // namespace

InferRequest decode_infer_request(const HttpRequest& request) {
  const std::size_t json_length = header_length(request);
  json::parse_options options;
  options.max_depth = kMaxJsonDepth;
  std::error_code ec;
  json::value root =
      json::parse(std::string_view(request.body).substr(0, json_length), ec, {}, options);
  if (ec) throw bad_request("the request body is not valid JSON: " + ec.message());
  const json::object& body = as_object(root, "the request");
  InferRequest result;
  if (const json::value* id = body.if_contains("id")) {
    if (!id->is_string()) throw bad_request("\"id\" must be a string");
    result.id = std::string(id->as_string());
  }
  result.binary_outputs = bool_parameter(body, "binary_data_output");
  const json::value* inputs = body.if_contains("inputs");
  if (inputs == nullptr || !inputs->is_array() || inputs->as_array().empty()) {
    throw bad_request("the request needs a non-empty \"inputs\" array");
  }
  std::size_t binary_offset = json_length;
  for (const auto& item : inputs->as_array()) {
    const json::object& in = as_object(item, "each of \"inputs\"");
    InferInput input;
    input.name = string_field(in, "name", "an input", true);
    const std::string what = "input '" + input.name + "'";
    std::string datatype = string_field(in, "datatype", what, true);
    auto dtype = dtype_from_name(datatype);
    if (!dtype) throw bad_request(what + ": unknown datatype '" + datatype + "'");
    input.dtype = *dtype;
    const json::value* shape = in.if_contains("shape");
    if (shape == nullptr || !shape->is_array())
      throw bad_request(what + " needs a \"shape\" array");
    for (const auto& d : shape->as_array()) {
      if (!d.is_int64() || d.as_int64() < 0)
        throw bad_request(what + ": shape entries must be non-negative integers");
      input.shape.push_back(d.as_int64());
    }
    const json::value* params = in.if_contains("parameters");
    const json::value* binary_size = params && params->is_object()
                                         ? params->as_object().if_contains("binary_data_size")
                                         : nullptr;
    if (binary_size != nullptr) {
      if (!binary_size->is_int64() || binary_size->as_int64() < 0) {
        throw bad_request(what + ": binary_data_size must be a non-negative integer");
      }
      const auto size = static_cast<std::size_t>(binary_size->as_int64());
      if (size > request.body.size() - binary_offset) {
        throw bad_request(what + ": binary_data_size " + std::to_string(size) +
                          " runs past the end of the body");
      }
      // Fixed-size dtypes: the size must be the shape's (BYTES is walked by check_tensor).
      if (const std::size_t element = dtype_size(input.dtype); element > 0) {
        const auto count = element_count(input.shape);
        if (!count || *count * element != size) {
          throw bad_request(what + ": binary_data_size " + std::to_string(size) + " is not the " +
                            (count ? std::to_string(*count * element) : std::string("valid")) +
                            " bytes of its shape and datatype");
        }
      }
      const char* bytes = request.body.data() + binary_offset;
      if (reinterpret_cast<std::uintptr_t>(bytes) % kInputAlignment == 0) {
        input.data = std::as_bytes(std::span(bytes, size));
      } else {
        // Tensor bytes follow a JSON header of any length: backends are promised aligned
        // data (plugin.h), so a misaligned view becomes an aligned copy.
        input.owned.assign(reinterpret_cast<const std::byte*>(bytes),
                           reinterpret_cast<const std::byte*>(bytes) + size);
        input.data = input.owned;
      }
      binary_offset += size;
    } else {
      const json::value* data = in.if_contains("data");
      if (data == nullptr) throw bad_request(what + " has neither \"data\" nor binary_data_size");
      encode_json_data(input, *data, what);
    }
    result.inputs.push_back(std::move(input));
  }
  if (binary_offset != request.body.size()) {
    throw bad_request(std::to_string(request.body.size() - binary_offset) +
                      " bytes of binary data follow the inputs that declare binary_data_size");
  }
  if (const json::value* outputs = body.if_contains("outputs")) {
    if (!outputs->is_array()) throw bad_request("\"outputs\" must be an array");
    for (const auto& item : outputs->as_array()) {
      const json::object& out = as_object(item, "each of \"outputs\"");
      RequestedOutput requested;
      requested.name = string_field(out, "name", "an output", true);
      requested.binary = bool_parameter(out, "binary_data") || result.binary_outputs;
      result.outputs.push_back(std::move(requested));
    }
  }
  return result;
}

namespace {

// The response is written by hand rather than through a JSON tree: a tensor of N numbers
// would otherwise be N tree nodes, and Boost.JSON prints every float as a double
// ("1.0000000149011612E-1" for 0.1f). Numbers use the shortest text that reads back to
// the same value of their own type (std::to_chars); NaN and infinities, which JSON cannot
// express, are written as null.
void append_string(std::string& out, std::string_view text) {
  out += json::serialize(json::string_view(text));
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
        append_string(out, std::string_view(reinterpret_cast<const char*>(bytes.data() + at + 4),
                                            std::min<std::size_t>(length, bytes.size() - at - 4)));
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
  out += ",\"model_version\":\"" + std::to_string(version) + "\"";
  if (!id.empty()) {
    out += ",\"id\":";
    append_string(out, id);
  }
  out += ",\"outputs\":[";
  std::string binary;
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
    const bool as_binary =
        output.binary || output.dtype == DType::kFp16 || output.dtype == DType::kBf16;
    if (as_binary) {
      out += ",\"parameters\":{\"binary_data_size\":" + std::to_string(output.data.size()) + "}}";
      binary.append(reinterpret_cast<const char*>(output.data.data()), output.data.size());
    } else {
      out += ",\"data\":";
      append_data(out, output);
      out += '}';
    }
  }
  out += "]}";
  if (!binary.empty()) {
    response.headers.emplace_back("Inference-Header-Content-Length", std::to_string(out.size()));
    out += binary;
    response.content_type = "application/octet-stream";
  }
  return response;
}

}  // namespace mg::gateway
