#pragma once

#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "gateway/plugin_host/tensor.h"
#include "gateway/preprocess/image_tensor.h"
#include "gateway/preprocess/text_tokens.h"

namespace mg::gateway {

// A model version's preprocessing (docs/preprocessing.md): the model config's
// "preprocess" object, one entry per input that may be sent raw. Two kinds:
//   "image": {"type": "image", "color": "grey", "height": 28, "width": 28,
//             "layout": "NCHW", "scale": 0.00392156862, "mean": [0], "std": [1]}
//   "tokens": {"type": "text", "vocabulary": "vocabulary", "split": "alphanumeric", …}
// A request sends such an input as a BYTES tensor of N encoded images or N texts (shape
// [N]) and the gateway makes it the model's tensor of N rows (FP32 pixels, INT64/INT32
// token ids); it may also send the tensor itself.
struct RawInput {
  std::string input;  // the model input it becomes
  enum class Kind { kImage, kText };
  Kind kind = Kind::kImage;
  ImageSpec image;
  TextSpec text;
};

struct Preprocessing {
  std::vector<RawInput> inputs;

  bool empty() const { return inputs.empty(); }
  // Whether any raw input is an image (decoding one may take milliseconds; tokenising a
  // text of a small body, microseconds).
  bool has_images() const;
  const RawInput* find(const std::string& input) const;
};

// The "preprocess" object of a model config (absent: empty), checked against the model's
// declared inputs. An image names an FP32 input whose row (the dimensions after the batch
// dimension — or after a variable first dimension of a model without batching — else all
// of them) holds channels × height × width elements, and a rank-4 input's dimensions
// agree with the layout. A text names an INT64 or INT32 input whose row is its length,
// and a vocabulary among `files` (the version's files: name → contents). Throws
// std::invalid_argument with a message naming the key, so that a load fails with it as its
// reason.
// A version may carry its own "preprocess" object as its file `preprocess` (uploaded with
// `mgctl model upload --preprocess JSON`); it then replaces the model config's.
Preprocessing preprocessing_of(const std::string& config_json, const ModelMetadata& metadata,
                               const std::map<std::string, std::string>& files = {});

// A model config's section `name` ("preprocess", "postprocess") as this version has it:
// the JSON object its file of that name holds when it carries one (std::invalid_argument
// when that is not an object), else the model config's entry, else null.
boost::json::value config_section(const std::string& config_json,
                                  const std::map<std::string, std::string>& files,
                                  const std::string& name);

// One raw input of a request: `elements` serialised BYTES elements (4-byte little-endian
// length + bytes), each an encoded image (base64 text when `base64`, as JSON carries them)
// or a text (UTF-8, as it is in JSON too), into `elements` rows of the declared tensor, and
// its shape. Throws RawInputError naming the element for one that cannot be used (the API
// answers 400).
struct RawTensor {
  std::vector<std::byte> data;
  std::vector<int64_t> shape;
};
RawTensor raw_to_tensor(const RawInput& raw, const TensorDesc& declared, bool batched,
                        std::span<const std::byte> serialised, uint64_t elements, bool base64);

}  // namespace mg::gateway
