#include "gateway/preprocess/preprocessing.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string_view>

#include "common/base64.h"

namespace mg::gateway {
namespace {

namespace json = boost::json;

[[noreturn]] void invalid(const std::string& input, const std::string& why) {
  throw std::invalid_argument("model config: preprocess." + input + ": " + why);
}

float number(const json::value& v, const std::string& input, const char* key) {
  if (!v.is_number()) invalid(input, std::string("\"") + key + "\" must be a number");
  return static_cast<float>(v.to_number<double>());
}

uint32_t dimension(const json::object& o, const std::string& input, const char* key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || !v->is_int64() || v->as_int64() < 1 || v->as_int64() > 16384) {
    invalid(input, std::string("\"") + key + "\" must be an integer from 1 to 16384");
  }
  return static_cast<uint32_t>(v->as_int64());
}

// "mean" / "std": a number, or one per channel.
std::vector<float> per_channel(const json::object& o, const char* key, float fallback,
                               const std::string& input, uint32_t channels) {
  const auto* v = o.if_contains(key);
  if (v == nullptr) return {fallback};
  std::vector<float> out;
  if (v->is_array()) {
    for (const auto& item : v->as_array()) out.push_back(number(item, input, key));
  } else {
    out.push_back(number(*v, input, key));
  }
  if (out.size() != 1 && out.size() != channels) {
    invalid(input,
            std::string("\"") + key + "\" must have 1 or " + std::to_string(channels) + " values");
  }
  return out;
}

// Refuses a key the entry's kind does not know (a misspelt option must not be ignored).
void check_keys(const json::object& o, std::initializer_list<std::string_view> known,
                const std::string& input) {
  for (const auto& entry : o) {
    if (std::find(known.begin(), known.end(), entry.key()) == known.end()) {
      invalid(input, "unknown key \"" + std::string(entry.key()) + "\"");
    }
  }
}

ImageSpec image_spec(const json::object& o, const std::string& input) {
  ImageSpec spec;
  spec.limits.gate = &large_image_gate();
  check_keys(o,
             {"type", "color", "height", "width", "layout", "scale", "mean", "std", "max_pixels"},
             input);
  const auto* color = o.if_contains("color");
  if (color == nullptr || !color->is_string() ||
      (color->as_string() != "grey" && color->as_string() != "gray" &&
       color->as_string() != "rgb")) {
    invalid(input, "\"color\" must be \"grey\" or \"rgb\"");
  }
  spec.channels = color->as_string() == "rgb" ? 3 : 1;
  spec.height = dimension(o, input, "height");
  spec.width = dimension(o, input, "width");
  if (const auto* layout = o.if_contains("layout")) {
    if (!layout->is_string() || (layout->as_string() != "NCHW" && layout->as_string() != "NHWC"))
      invalid(input, "\"layout\" must be \"NCHW\" or \"NHWC\"");
    spec.channels_last = layout->as_string() == "NHWC";
  }
  if (const auto* scale = o.if_contains("scale")) {
    if (!scale->is_number()) invalid(input, "\"scale\" must be a number");
    spec.scale = scale->to_number<double>();
  }
  if (!(spec.scale > 0.0)) invalid(input, "\"scale\" must be above 0");
  spec.mean = per_channel(o, "mean", 0.0f, input, spec.channels);
  spec.std = per_channel(o, "std", 1.0f, input, spec.channels);
  for (float s : spec.std)
    if (s == 0.0f) invalid(input, "\"std\" must not be 0");
  if (const auto* pixels = o.if_contains("max_pixels")) {
    if (!pixels->is_int64() || pixels->as_int64() < 1 || pixels->as_int64() > (int64_t{1} << 28))
      invalid(input, "\"max_pixels\" must be an integer from 1 to 268435456");
    spec.limits.max_pixels = static_cast<uint64_t>(pixels->as_int64());
  }
  return spec;
}

const json::value* string_or_null(const json::object& o, const char* key,
                                  const std::string& input) {
  const auto* v = o.if_contains(key);
  if (v != nullptr && !v->is_string())
    invalid(input, std::string("\"") + key + "\" must be a string");
  return v;
}

bool one_of(const json::object& o, const char* key, const char* first, const char* second,
            const std::string& input) {
  const auto* v = string_or_null(o, key, input);
  if (v == nullptr) return false;
  if (v->as_string() != first && v->as_string() != second) {
    invalid(input, std::string("\"") + key + "\" must be \"" + first + "\" or \"" + second + "\"");
  }
  return v->as_string() == second;
}

int64_t id_of(const json::object& o, const char* key, int64_t fallback, const std::string& input) {
  const auto* v = o.if_contains(key);
  if (v == nullptr) return fallback;
  if (!v->is_int64() || v->as_int64() < 0) {
    invalid(input, std::string("\"") + key + "\" must be an integer from 0");
  }
  return v->as_int64();
}

TextSpec text_spec(const json::object& o, const std::string& input,
                   const std::map<std::string, std::string>& files) {
  check_keys(o,
             {"type", "vocabulary", "split", "lowercase", "filters", "unknown", "unknown_id",
              "padding_id", "length", "padding", "truncation", "max_bytes"},
             input);
  TextSpec spec;
  const auto* file_name = string_or_null(o, "vocabulary", input);
  const std::string name = file_name ? std::string(file_name->as_string()) : "vocabulary";
  const auto file = files.find(name);
  if (file == files.end()) {
    invalid(input, "the version has no file '" + name +
                       "' for the vocabulary (upload the version with --vocab FILE)");
  }
  try {
    spec.vocabulary = std::make_shared<const Vocabulary>(parse_vocabulary(file->second));
  } catch (const std::invalid_argument& e) {
    invalid(input, e.what());
  }
  spec.split = one_of(o, "split", "alphanumeric", "whitespace", input)
                   ? TextSpec::Split::kWhitespace
                   : TextSpec::Split::kAlphanumeric;
  if (const auto* lowercase = o.if_contains("lowercase")) {
    if (!lowercase->is_bool()) invalid(input, "\"lowercase\" must be true or false");
    spec.lowercase = lowercase->as_bool();
  }
  spec.filters = std::string(kKerasFilters);
  if (const auto* filters = string_or_null(o, "filters", input)) {
    if (spec.split != TextSpec::Split::kWhitespace) {
      invalid(input, "\"filters\" applies to \"split\": \"whitespace\" only");
    }
    spec.filters = std::string(filters->as_string());
  }
  if (o.contains("unknown") && o.contains("unknown_id")) {
    invalid(input, "give \"unknown\" (a token) or \"unknown_id\", not both");
  }
  if (const auto* unknown = string_or_null(o, "unknown", input)) {
    const auto id = spec.vocabulary->find(std::string(unknown->as_string()));
    if (id == spec.vocabulary->end()) {
      invalid(input, "the unknown token '" + std::string(unknown->as_string()) +
                         "' is not in the vocabulary");
    }
    spec.unknown_id = id->second;
  } else if (o.contains("unknown_id")) {
    spec.unknown_id = id_of(o, "unknown_id", 1, input);
  } else {
    const auto id = spec.vocabulary->find("<unk>");  // the seed's and most trainers' name
    spec.unknown_id = id != spec.vocabulary->end() ? id->second : 1;
  }
  spec.padding_id = id_of(o, "padding_id", 0, input);
  if (o.contains("length")) spec.length = dimension(o, input, "length");
  spec.pad_front = one_of(o, "padding", "post", "pre", input);
  spec.truncate_front = one_of(o, "truncation", "post", "pre", input);
  if (const auto* bytes = o.if_contains("max_bytes")) {
    if (!bytes->is_int64() || bytes->as_int64() < 1 || bytes->as_int64() > (int64_t{64} << 20))
      invalid(input, "\"max_bytes\" must be an integer from 1 to 67108864");
    spec.max_bytes = static_cast<uint32_t>(bytes->as_int64());
  }
  return spec;
}

// Whether dimension 0 of the input counts images: a batching model's, or a variable first
// dimension of a model without batching (an ONNX model's dynamic batch, served unbatched).
bool counts_images(const TensorDesc& declared, bool batched) {
  return batched || (!declared.shape.empty() && declared.shape[0] < 0);
}

// The row the spec produces, in the declared input's terms: its dimensions after the batch
// dimension (all of them without one) must hold channels × height × width, and a
// variable dimension is taken from the layout when the row is [C, H, W] or [H, W, C].
std::vector<int64_t> row_shape(const ImageSpec& spec, const TensorDesc& declared, bool batched,
                               const std::string& input) {
  std::vector<int64_t> row(declared.shape.begin() + (counts_images(declared, batched) ? 1 : 0),
                           declared.shape.end());
  const std::vector<int64_t> implied =
      spec.channels_last ? std::vector<int64_t>{spec.height, spec.width, spec.channels}
                         : std::vector<int64_t>{spec.channels, spec.height, spec.width};
  int64_t product = 1;
  for (std::size_t d = 0; d < row.size(); ++d) {
    if (row[d] < 0) {
      if (row.size() != 3)
        invalid(input, "the input has a variable dimension the image cannot fill");
      row[d] = implied[d];
    }
    if (row.size() == 3 && row[d] != implied[d]) {
      invalid(input, "the input's dimensions do not match the image's " +
                         std::string(spec.channels_last ? "HWC" : "CHW") + " layout");
    }
    product *= row[d];
  }
  if (product != int64_t{spec.channels} * spec.height * spec.width) {
    invalid(input, "the input holds " + std::to_string(product) + " values per row, the image " +
                       std::to_string(int64_t{spec.channels} * spec.height * spec.width));
  }
  return row;
}

// A text's row: the dimensions after the batch dimension hold `length` ids; a variable
// one takes the spec's "length", which then must be given.
std::vector<int64_t> text_row_shape(const TextSpec& spec, const TensorDesc& declared, bool batched,
                                    const std::string& input) {
  std::vector<int64_t> row(declared.shape.begin() + (counts_images(declared, batched) ? 1 : 0),
                           declared.shape.end());
  if (row.size() > 1) invalid(input, "a text becomes one row of ids: the input's row is not 1-D");
  if (row.empty()) row.push_back(1);
  if (row[0] < 0) {
    if (spec.length == 0) invalid(input, "the input's length is variable: give \"length\"");
    row[0] = spec.length;
  }
  if (spec.length != 0 && row[0] != spec.length) {
    invalid(input, "\"length\" is " + std::to_string(spec.length) + ", the input's row " +
                       std::to_string(row[0]));
  }
  return row;
}

}  // namespace

bool Preprocessing::has_images() const {
  return std::any_of(inputs.begin(), inputs.end(),
                     [](const RawInput& raw) { return raw.kind == RawInput::Kind::kImage; });
}

boost::json::value config_section(const std::string& config_json,
                                  const std::map<std::string, std::string>& files,
                                  const std::string& name) {
  boost::system::error_code ec;
  if (const auto file = files.find(name); file != files.end()) {
    boost::json::value section = boost::json::parse(file->second, ec);
    if (ec || !section.is_object()) {
      throw std::invalid_argument("the version's file '" + name + "' is not a JSON object");
    }
    return section;
  }
  const boost::json::value config = boost::json::parse(config_json, ec);
  const auto* section = !ec && config.is_object() ? config.as_object().if_contains(name) : nullptr;
  return section != nullptr ? *section : boost::json::value(nullptr);
}

const RawInput* Preprocessing::find(const std::string& input) const {
  for (const auto& raw : inputs)
    if (raw.input == input) return &raw;
  return nullptr;
}

Preprocessing preprocessing_of(const std::string& config_json, const ModelMetadata& metadata,
                               const std::map<std::string, std::string>& files) {
  Preprocessing out;
  const json::value preprocess = config_section(config_json, files, "preprocess");
  if (preprocess.is_null()) return out;
  if (!preprocess.is_object()) {
    throw std::invalid_argument("model config: \"preprocess\" must be an object");
  }
  const bool batched = metadata.max_batch_size > 0;
  for (const auto& [key, entry] : preprocess.as_object()) {
    const std::string input(key);
    const TensorDesc* declared = metadata.find_input(input);
    if (declared == nullptr) invalid(input, "the model has no input of that name");
    if (!entry.is_object()) invalid(input, "must be an object");
    const auto* type = entry.as_object().if_contains("type");
    const bool text = type != nullptr && type->is_string() && type->as_string() == "text";
    if (!text && (type == nullptr || !type->is_string() || type->as_string() != "image")) {
      invalid(input, "\"type\" must be \"image\" or \"text\"");
    }
    RawInput raw;
    raw.input = input;
    if (text) {
      if (declared->dtype != DType::kInt64 && declared->dtype != DType::kInt32) {
        invalid(input, "a text becomes token ids: the input is not INT64 or INT32");
      }
      raw.kind = RawInput::Kind::kText;
      raw.text = text_spec(entry.as_object(), input, files);
      raw.text.length =
          static_cast<uint32_t>(text_row_shape(raw.text, *declared, batched, input)[0]);
    } else {
      if (declared->dtype != DType::kFp32) invalid(input, "the input is not FP32");
      raw.image = image_spec(entry.as_object(), input);
      row_shape(raw.image, *declared, batched, input);
    }
    out.inputs.push_back(std::move(raw));
  }
  return out;
}

namespace {

// Serialised BYTES elements of one input, walked in order; errors name the element
// ("input 'image', image 3: "), a description built only when one is thrown.
class Elements {
 public:
  Elements(std::span<const std::byte> serialised, const std::string& input, const char* kind)
      : serialised_(serialised), input_(input), kind_(kind) {}
  // Element i, the next one.
  std::span<const std::byte> next(uint64_t i) {
    uint32_t length = 0;
    if (serialised_.size() - at_ < 4) throw RawInputError(which(i) + "missing");
    std::memcpy(&length, serialised_.data() + at_, 4);
    at_ += 4;
    if (serialised_.size() - at_ < length) throw RawInputError(which(i) + "missing");
    const auto element = serialised_.subspan(at_, length);
    at_ += length;
    return element;
  }
  std::string which(uint64_t i) const {
    return "input '" + input_ + "', " + kind_ + " " + std::to_string(i) + ": ";
  }

 private:
  std::span<const std::byte> serialised_;
  const std::string& input_;
  const char* kind_;
  std::size_t at_ = 0;
};

RawTensor texts_to_tensor(const RawInput& raw, const TensorDesc& declared, bool batched,
                          std::span<const std::byte> serialised, uint64_t elements) {
  const TextSpec& spec = raw.text;
  RawTensor out;
  const bool rows = counts_images(declared, batched);
  if (rows) out.shape.push_back(static_cast<int64_t>(elements));
  if (declared.shape.size() > (rows ? 1u : 0u)) out.shape.push_back(spec.length);
  if (!rows && elements != 1) {
    throw RawInputError("input '" + raw.input + "': the model takes one text, the request sent " +
                        std::to_string(elements));
  }
  std::vector<int64_t> ids(elements * spec.length);
  Elements texts(serialised, raw.input, "text");
  for (uint64_t i = 0; i < elements; ++i) {
    const auto text = texts.next(i);
    try {
      text_to_ids(std::string_view(reinterpret_cast<const char*>(text.data()), text.size()), spec,
                  std::span<int64_t>(ids).subspan(i * spec.length, spec.length));
    } catch (const RawInputError& e) {
      throw RawInputError(texts.which(i) + e.what());
    }
  }
  if (declared.dtype == DType::kInt64) {
    out.data.resize(ids.size() * sizeof(int64_t));
    std::memcpy(out.data.data(), ids.data(), out.data.size());
  } else {
    std::vector<int32_t> narrow(ids.begin(), ids.end());  // ids of a vocabulary under 16 M
    out.data.resize(narrow.size() * sizeof(int32_t));
    std::memcpy(out.data.data(), narrow.data(), out.data.size());
  }
  return out;
}

}  // namespace

RawTensor raw_to_tensor(const RawInput& raw, const TensorDesc& declared, bool batched,
                        std::span<const std::byte> serialised, uint64_t elements, bool base64) {
  if (raw.kind == RawInput::Kind::kText) {
    return texts_to_tensor(raw, declared, batched, serialised, elements);
  }
  const ImageSpec& spec = raw.image;
  RawTensor out;
  const std::vector<int64_t> row = row_shape(spec, declared, batched, raw.input);
  const bool rows = counts_images(declared, batched);
  if (rows) out.shape.push_back(static_cast<int64_t>(elements));
  out.shape.insert(out.shape.end(), row.begin(), row.end());
  if (!rows && elements != 1) {
    throw ImageError("input '" + raw.input + "': the model takes one image, the request sent " +
                     std::to_string(elements));
  }
  const std::size_t row_values = std::size_t{spec.channels} * spec.height * spec.width;
  out.data.resize(elements * row_values * sizeof(float));
  Elements files(serialised, raw.input, "image");
  for (uint64_t i = 0; i < elements; ++i) {
    const auto file = files.next(i);
    try {
      std::optional<std::string> decoded64;
      if (base64) {
        decoded64 = decode_base64(
            std::string_view(reinterpret_cast<const char*>(file.data()), file.size()));
        if (!decoded64)
          throw ImageError("not base64 (an image in JSON is its file's bytes in base64)");
      }
      const DecodedImage image = decode_image(
          base64 ? std::as_bytes(std::span(decoded64->data(), decoded64->size())) : file,
          spec.channels, spec.limits);
      image_to_tensor(image, spec, reinterpret_cast<float*>(out.data.data()) + i * row_values);
    } catch (const ImageError& e) {
      throw ImageError(files.which(i) + e.what());
    }
  }
  return out;
}

}  // namespace mg::gateway
