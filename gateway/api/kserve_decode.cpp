// Decodes KServe v2 infer requests. The JSON goes through simdjson's DOM parser: a
// batch-1 image request is ~800 numbers, and parsing them is the largest cost of a small
// model's request (bench/kserve_codec_bench: about half of Boost.JSON's time). The
// parser validates the whole text (structure, UTF-8, numbers) before anything is read.
#include <simdjson.h>

#include <charconv>
#include <cstring>
#include <limits>
#include <optional>

#include "gateway/api/errors.h"
#include "gateway/api/kserve_codec.h"
#include "gateway/plugin_host/tensor_check.h"

namespace mg::gateway {
namespace {

namespace dom = simdjson::dom;

// The JSON part of a request is small; a cap keeps a hostile one from nesting without
// bound (binary tensors are not part of it).
constexpr std::size_t kMaxJsonDepth = 64;

// Each socket thread keeps one parser, whose buffers are sized by the largest document it
// has seen (about 13 bytes per byte of text: tape, structural index, strings); a document
// above this size gets a parser of its own, freed with it. So a thread keeps at most
// ~3.5 MB, and a batch-32 image request (~200 KB) still reuses it.
constexpr std::size_t kReusedParserMaxBytes = 256 * 1024;

dom::object as_object(dom::element v, const std::string& what) {
  dom::object object;
  if (v.get(object) != simdjson::SUCCESS) throw bad_request(what + " must be a JSON object");
  return object;
}

std::optional<dom::element> field(dom::object o, std::string_view key) {
  dom::element v;
  if (o.at_key(key).get(v) != simdjson::SUCCESS) return std::nullopt;
  return v;
}

std::string string_field(dom::object o, const char* key, const std::string& what) {
  const auto v = field(o, key);
  if (!v) throw bad_request(what + " has no \"" + key + "\"");
  std::string_view text;
  if (v->get(text) != simdjson::SUCCESS)
    throw bad_request(what + ": \"" + key + "\" must be a string");
  return std::string(text);
}

bool bool_parameter(dom::object o, const char* key) {
  dom::object params;
  bool value = false;
  if (const auto p = field(o, "parameters"); !p || p->get(params) != simdjson::SUCCESS)
    return false;
  const auto v = field(params, key);
  return v && v->get(value) == simdjson::SUCCESS && value;
}

// An output's "parameters": {"classification": K} (the classification extension): K from
// 1 to 65536, 0 when absent.
uint32_t classification_parameter(dom::object o, const std::string& output) {
  dom::object params;
  if (const auto p = field(o, "parameters"); !p || p->get(params) != simdjson::SUCCESS) return 0;
  const auto v = field(params, "classification");
  if (!v) return 0;
  int64_t k = 0;
  if (v->get(k) != simdjson::SUCCESS || k < 1 || k > 65536) {
    throw bad_request("output '" + output +
                      "': \"classification\" must be an integer from 1 to 65536");
  }
  return static_cast<uint32_t>(k);
}

// An output's "parameters": {"classification_format": "strings" | "object"}: whether the
// classes come as JSON objects. Only with "classification".
bool classification_format(dom::object o, const RequestedOutput& output) {
  dom::object params;
  if (const auto p = field(o, "parameters"); !p || p->get(params) != simdjson::SUCCESS)
    return false;
  const auto v = field(params, "classification_format");
  if (!v) return false;
  std::string_view format;
  if (v->get(format) != simdjson::SUCCESS || (format != "strings" && format != "object")) {
    throw bad_request("output '" + output.name +
                      "': \"classification_format\" must be \"strings\" or \"object\"");
  }
  if (output.classification == 0) {
    throw bad_request("output '" + output.name +
                      "': \"classification_format\" goes with \"classification\"");
  }
  return format == "object";
}

// Calls leaf(element) for each leaf of a flat or nested JSON array, in row-major order
// (a scalar is its own one leaf). The recursion is as deep as the document, which the
// parser has already bounded (kMaxJsonDepth).
template <typename Leaf>
void walk_items(dom::array items, Leaf& leaf) {
  for (dom::element item : items) {
    if (item.type() == dom::element_type::ARRAY) {
      walk_items(dom::array(item), leaf);
    } else {
      leaf(item);
    }
  }
}

template <typename Leaf>
void for_each_leaf(dom::element data, Leaf&& leaf) {
  if (data.type() == dom::element_type::ARRAY) {
    walk_items(dom::array(data), leaf);
  } else {
    leaf(data);
  }
}

[[noreturn]] void count_mismatch(const std::string& what, uint64_t count, std::size_t leaves) {
  throw bad_request(what + ": shape needs " + std::to_string(count) + " elements, \"data\" has " +
                    std::to_string(leaves));
}

// One JSON number as T, refusing values T cannot hold.
template <typename T>
T number_as(dom::element v, const std::string& what, std::size_t index) {
  auto fail = [&](const char* why) -> T {
    throw bad_request(what + ": element " + std::to_string(index) + " " + why);
  };
  switch (v.type()) {
    case dom::element_type::DOUBLE:
      if constexpr (std::is_floating_point_v<T>) return static_cast<T>(double(v));
      return fail("is not an integer");
    case dom::element_type::INT64: {
      const int64_t x = int64_t(v);
      if constexpr (std::is_floating_point_v<T>) return static_cast<T>(x);
      if (x < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
          (x > 0 &&
           static_cast<uint64_t>(x) > static_cast<uint64_t>(std::numeric_limits<T>::max()))) {
        return fail("is out of range for the datatype");
      }
      return static_cast<T>(x);
    }
    case dom::element_type::UINT64: {
      const uint64_t x = uint64_t(v);
      if constexpr (std::is_floating_point_v<T>) return static_cast<T>(x);
      if (x > static_cast<uint64_t>(std::numeric_limits<T>::max())) {
        return fail("is out of range for the datatype");
      }
      return static_cast<T>(x);
    }
    default:
      return fail(std::is_floating_point_v<T> ? "is not a number" : "is not an integer");
  }
}

template <typename T>
void put(std::vector<std::byte>& out, T value) {
  const auto* p = reinterpret_cast<const std::byte*>(&value);
  out.insert(out.end(), p, p + sizeof(T));
}

// Fixed-size elements go straight into the tensor buffer in one walk. The buffer is
// sized by the shape, which the caller has bounded by the text's length.
template <typename T>
void encode_numbers(dom::element data, uint64_t count, std::vector<std::byte>& out,
                    const std::string& what) {
  out.resize(count * sizeof(T));
  std::byte* next = out.data();
  std::size_t index = 0;
  for_each_leaf(data, [&](dom::element leaf) {
    if (index < count) {
      T value;
      double number;
      if constexpr (std::is_floating_point_v<T>) {
        // the common case inline: get_double reads doubles and integers alike
        value = leaf.get_double().get(number) == simdjson::SUCCESS
                    ? static_cast<T>(number)
                    : number_as<T>(leaf, what, index);
      } else {
        value = number_as<T>(leaf, what, index);
      }
      std::memcpy(next, &value, sizeof(T));
      next += sizeof(T);
    }
    ++index;
  });
  if (index != count) count_mismatch(what, count, index);
}

void encode_json_data(InferInput& input, dom::element data, std::size_t json_length,
                      const std::string& what) {
  const std::optional<uint64_t> count = element_count(input.shape);
  if (!count) throw bad_request(what + ": shape has negative or too many elements");
  // Each leaf takes at least two characters of text ("0,"): a shape asking for more
  // cannot match, and must not size a buffer.
  if (*count > json_length / 2 + 1) {
    std::size_t leaves = 0;
    for_each_leaf(data, [&](dom::element) { ++leaves; });
    count_mismatch(what, *count, leaves);
  }
  auto& out = input.owned;
  switch (input.dtype) {
    case DType::kBool: {
      out.resize(*count);
      std::size_t index = 0;
      for_each_leaf(data, [&](dom::element leaf) {
        bool value = false;
        if (leaf.get(value) != simdjson::SUCCESS)
          throw bad_request(what + ": element " + std::to_string(index) + " is not a boolean");
        if (index < *count) out[index] = std::byte{value ? uint8_t{1} : uint8_t{0}};
        ++index;
      });
      if (index != *count) count_mismatch(what, *count, index);
      break;
    }
    case DType::kUint8:
      encode_numbers<uint8_t>(data, *count, out, what);
      break;
    case DType::kUint16:
      encode_numbers<uint16_t>(data, *count, out, what);
      break;
    case DType::kUint32:
      encode_numbers<uint32_t>(data, *count, out, what);
      break;
    case DType::kUint64:
      encode_numbers<uint64_t>(data, *count, out, what);
      break;
    case DType::kInt8:
      encode_numbers<int8_t>(data, *count, out, what);
      break;
    case DType::kInt16:
      encode_numbers<int16_t>(data, *count, out, what);
      break;
    case DType::kInt32:
      encode_numbers<int32_t>(data, *count, out, what);
      break;
    case DType::kInt64:
      encode_numbers<int64_t>(data, *count, out, what);
      break;
    case DType::kFp32:
      encode_numbers<float>(data, *count, out, what);
      break;
    case DType::kFp64:
      encode_numbers<double>(data, *count, out, what);
      break;
    case DType::kBytes: {
      std::size_t index = 0;
      for_each_leaf(data, [&](dom::element leaf) {
        std::string_view text;
        if (leaf.get(text) != simdjson::SUCCESS)
          throw bad_request(what + ": element " + std::to_string(index) + " is not a string");
        put<uint32_t>(out, static_cast<uint32_t>(text.size()));
        const auto* p = reinterpret_cast<const std::byte*>(text.data());
        out.insert(out.end(), p, p + text.size());
        ++index;
      });
      if (index != *count) count_mismatch(what, *count, index);
      break;
    }
    default:
      throw bad_request(what + ": datatype " + std::string(dtype_name(input.dtype)) +
                        " has no JSON form; send it with the binary tensor extension");
  }
  input.data = input.owned;
  input.from_json = true;
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

// A non-negative integer parameter such as binary_data_size, or nullopt when absent.
std::optional<std::size_t> size_parameter(dom::object o, const char* key, const std::string& what) {
  dom::object params;
  if (const auto p = field(o, "parameters"); !p || p->get(params) != simdjson::SUCCESS)
    return std::nullopt;
  const auto v = field(params, key);
  if (!v) return std::nullopt;
  int64_t size = -1;
  if (v->type() != dom::element_type::INT64 || v->get(size) != simdjson::SUCCESS || size < 0)
    throw bad_request(what + ": " + key + " must be a non-negative integer");
  return static_cast<std::size_t>(size);
}

// The input's bytes from the binary part of the body, at `offset`.
void take_binary(InferInput& input, const HttpRequest& request, std::size_t offset,
                 std::size_t size, const std::string& what) {
  if (size > request.body.size() - offset) {
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
  // A view into the body, wherever the JSON header's length puts it: the plugin host
  // aligns what it must (Instance::execute), and a merged batch is copied once anyway.
  input.data = std::as_bytes(std::span(request.body.data() + offset, size));
}

InferRequest decode_document(dom::element root, const HttpRequest& request,
                             std::size_t json_length) {
  const dom::object body = as_object(root, "the request");
  InferRequest result;
  if (const auto id = field(body, "id")) {
    std::string_view text;
    if (id->get(text) != simdjson::SUCCESS) throw bad_request("\"id\" must be a string");
    result.id = std::string(text);
  }
  result.binary_outputs = bool_parameter(body, "binary_data_output");
  dom::array inputs;
  const auto inputs_field = field(body, "inputs");
  if (!inputs_field || inputs_field->get(inputs) != simdjson::SUCCESS ||
      inputs.begin() == inputs.end()) {
    throw bad_request("the request needs a non-empty \"inputs\" array");
  }
  std::size_t binary_offset = json_length;
  result.inputs.reserve(inputs.size());
  for (dom::element item : inputs) {
    const dom::object in = as_object(item, "each of \"inputs\"");
    InferInput input;
    input.name = string_field(in, "name", "an input");
    const std::string what = "input '" + input.name + "'";
    const std::string datatype = string_field(in, "datatype", what);
    auto dtype = dtype_from_name(datatype);
    if (!dtype) throw bad_request(what + ": unknown datatype '" + datatype + "'");
    input.dtype = *dtype;
    dom::array shape;
    if (const auto s = field(in, "shape"); !s || s->get(shape) != simdjson::SUCCESS)
      throw bad_request(what + " needs a \"shape\" array");
    input.shape.reserve(shape.size());
    for (dom::element d : shape) {
      int64_t dim = -1;
      if (d.type() != dom::element_type::INT64 || d.get(dim) != simdjson::SUCCESS || dim < 0)
        throw bad_request(what + ": shape entries must be non-negative integers");
      input.shape.push_back(dim);
    }
    if (const auto size = size_parameter(in, "binary_data_size", what)) {
      take_binary(input, request, binary_offset, *size, what);
      binary_offset += *size;
    } else {
      const auto data = field(in, "data");
      if (!data) throw bad_request(what + " has neither \"data\" nor binary_data_size");
      encode_json_data(input, *data, json_length, what);
    }
    result.inputs.push_back(std::move(input));
  }
  if (binary_offset != request.body.size()) {
    throw bad_request(std::to_string(request.body.size() - binary_offset) +
                      " bytes of binary data follow the inputs that declare binary_data_size");
  }
  if (const auto outputs_field = field(body, "outputs")) {
    dom::array outputs;
    if (outputs_field->get(outputs) != simdjson::SUCCESS)
      throw bad_request("\"outputs\" must be an array");
    result.outputs.reserve(outputs.size());
    for (dom::element item : outputs) {
      const dom::object out = as_object(item, "each of \"outputs\"");
      RequestedOutput requested;
      requested.name = string_field(out, "name", "an output");
      requested.binary = bool_parameter(out, "binary_data") || result.binary_outputs;
      requested.classification = classification_parameter(out, requested.name);
      requested.classification_objects = classification_format(out, requested);
      result.outputs.push_back(std::move(requested));
    }
  }
  return result;
}

dom::parser make_parser() {
  dom::parser parser;
  if (parser.allocate(4096, kMaxJsonDepth) != simdjson::SUCCESS) throw std::bad_alloc();
  return parser;
}

}  // namespace

std::size_t json_part_length(const HttpRequest& request) { return header_length(request); }

InferRequest decode_infer_request(const HttpRequest& request, std::size_t max_json_bytes) {
  return decode_infer_request(request, header_length(request), max_json_bytes);
}

InferRequest decode_infer_request(const HttpRequest& request, std::size_t json_length,
                                  std::size_t max_json_bytes) {
  if (json_length > request.body.size()) {
    throw bad_request("the JSON part's length " + std::to_string(json_length) +
                      " is past the body's end");
  }
  if (json_length > max_json_bytes) {
    throw ApiError(413, "payload_too_large",
                   "the request's JSON part is " + std::to_string(json_length) +
                       " bytes, over the limit of " + std::to_string(max_json_bytes) +
                       ": send large tensors with the binary tensor extension "
                       "(Inference-Header-Content-Length, binary_data_size)");
  }
  thread_local dom::parser reused = make_parser();
  std::optional<dom::parser> own;
  dom::parser& parser = json_length <= kReusedParserMaxBytes ? reused : own.emplace(make_parser());
  dom::element root;
  // (the text is copied into the parser's padded buffer: simdjson reads in 64-byte blocks)
  if (const auto error = parser.parse(request.body.data(), json_length).get(root);
      error != simdjson::SUCCESS) {
    throw bad_request(std::string("the request body is not valid JSON: ") +
                      simdjson::error_message(error));
  }
  return decode_document(root, request, json_length);
}

}  // namespace mg::gateway
