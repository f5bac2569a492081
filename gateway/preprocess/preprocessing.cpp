#include "gateway/preprocess/preprocessing.h"

#include <openssl/evp.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstring>
#include <stdexcept>
#include <string_view>

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

ImageSpec image_spec(const json::object& o, const std::string& input) {
  ImageSpec spec;
  static const char* const kKeys[] = {"type",  "color", "height", "width",     "layout",
                                      "scale", "mean",  "std",    "max_pixels"};
  for (const auto& entry : o) {
    // A plain copy: clang before 16 cannot capture a structured binding in a lambda.
    const std::string_view key = entry.key();
    if (std::find_if(std::begin(kKeys), std::end(kKeys),
                     [key](const char* k) { return key == k; }) == std::end(kKeys)) {
      invalid(input, "unknown key \"" + std::string(key) + "\"");
    }
  }
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

std::vector<std::byte> from_base64(std::span<const std::byte> text) {
  std::vector<std::byte> out(text.size() / 4 * 3 + 3);
  std::unique_ptr<EVP_ENCODE_CTX, void (*)(EVP_ENCODE_CTX*)> ctx(EVP_ENCODE_CTX_new(),
                                                                 EVP_ENCODE_CTX_free);
  EVP_DecodeInit(ctx.get());
  int written = 0, last = 0;
  if (text.size() > static_cast<std::size_t>(INT32_MAX) ||
      EVP_DecodeUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &written,
                       reinterpret_cast<const unsigned char*>(text.data()),
                       static_cast<int>(text.size())) < 0 ||
      EVP_DecodeFinal(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + written, &last) !=
          1) {
    throw ImageError("not base64 (an image in JSON is its file's bytes in base64)");
  }
  out.resize(static_cast<std::size_t>(written + last));
  return out;
}

}  // namespace

const RawInput* Preprocessing::find(const std::string& input) const {
  for (const auto& raw : inputs)
    if (raw.input == input) return &raw;
  return nullptr;
}

Preprocessing preprocessing_of(const std::string& config_json, const ModelMetadata& metadata) {
  Preprocessing out;
  boost::system::error_code ec;
  const json::value config = json::parse(config_json, ec);
  if (ec || !config.is_object()) return out;
  const auto* preprocess = config.as_object().if_contains("preprocess");
  if (preprocess == nullptr) return out;
  if (!preprocess->is_object()) {
    throw std::invalid_argument("model config: \"preprocess\" must be an object");
  }
  for (const auto& [key, entry] : preprocess->as_object()) {
    const std::string input(key);
    const TensorDesc* declared = metadata.find_input(input);
    if (declared == nullptr) invalid(input, "the model has no input of that name");
    if (declared->dtype != DType::kFp32) invalid(input, "the input is not FP32");
    if (!entry.is_object()) invalid(input, "must be an object");
    const auto* type = entry.as_object().if_contains("type");
    if (type == nullptr || !type->is_string() || type->as_string() != "image") {
      invalid(input, "\"type\" must be \"image\"");
    }
    RawInput raw{input, image_spec(entry.as_object(), input)};
    row_shape(raw.image, *declared, metadata.max_batch_size > 0, input);
    out.inputs.push_back(std::move(raw));
  }
  return out;
}

RawTensor raw_to_tensor(const RawInput& raw, const TensorDesc& declared, bool batched,
                        std::span<const std::byte> serialised, uint64_t elements, bool base64) {
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
  std::size_t at = 0;
  for (uint64_t i = 0; i < elements; ++i) {
    const std::string which = "input '" + raw.input + "', image " + std::to_string(i) + ": ";
    uint32_t length = 0;
    if (serialised.size() - at < 4) throw ImageError(which + "missing");
    std::memcpy(&length, serialised.data() + at, 4);
    at += 4;
    if (serialised.size() - at < length) throw ImageError(which + "missing");
    const auto file = serialised.subspan(at, length);
    at += length;
    try {
      const std::vector<std::byte> decoded64 =
          base64 ? from_base64(file) : std::vector<std::byte>{};
      const DecodedImage image = decode_image(base64 ? std::span<const std::byte>(decoded64) : file,
                                              spec.channels, spec.limits);
      image_to_tensor(image, spec, reinterpret_cast<float*>(out.data.data()) + i * row_values);
    } catch (const ImageError& e) {
      throw ImageError(which + e.what());
    }
  }
  return out;
}

}  // namespace mg::gateway
