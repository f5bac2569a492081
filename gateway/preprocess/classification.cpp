#include "gateway/preprocess/classification.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace mg::gateway {

const std::vector<std::string>* Postprocessing::labels_of(const std::string& output) const {
  for (const auto& entry : outputs)
    if (entry.output == output) return &entry.labels;
  return nullptr;
}

Postprocessing postprocessing_of(const std::string& config_json, const ModelMetadata& metadata) {
  namespace json = boost::json;
  Postprocessing out;
  boost::system::error_code ec;
  const json::value config = json::parse(config_json, ec);
  if (ec || !config.is_object()) return out;
  const auto* postprocess = config.as_object().if_contains("postprocess");
  if (postprocess == nullptr) return out;
  if (!postprocess->is_object()) {
    throw std::invalid_argument("model config: \"postprocess\" must be an object");
  }
  for (const auto& [key, entry] : postprocess->as_object()) {
    const std::string name(key);
    const std::string where = "model config: postprocess." + name + ": ";
    if (metadata.find_output(name) == nullptr)
      throw std::invalid_argument(where + "the model has no output of that name");
    const auto* labels = entry.is_object() ? entry.as_object().if_contains("labels") : nullptr;
    if (labels == nullptr || !labels->is_array() || entry.as_object().size() != 1) {
      throw std::invalid_argument(where + "must be {\"labels\": [\"…\", …]}");
    }
    OutputLabels names{name, {}};
    for (const auto& label : labels->as_array()) {
      if (!label.is_string()) throw std::invalid_argument(where + "every label must be a string");
      names.labels.emplace_back(label.as_string());
    }
    out.outputs.push_back(std::move(names));
  }
  return out;
}

std::vector<std::string> top_classes(std::span<const float> values, std::vector<int64_t>& shape,
                                     bool batched, uint32_t k,
                                     const std::vector<std::string>* labels) {
  const std::size_t rows = batched && !shape.empty() ? static_cast<std::size_t>(shape[0]) : 1;
  const std::size_t classes = rows == 0 ? 0 : values.size() / rows;
  const std::size_t keep = std::min<std::size_t>(k, classes);
  std::vector<std::string> out;
  out.reserve(rows * keep);
  std::vector<std::size_t> order(classes);
  for (std::size_t r = 0; r < rows; ++r) {
    const float* row = values.data() + r * classes;
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(keep), order.end(),
                      [row](std::size_t a, std::size_t b) {
                        // NaN ranks last, so the order stays a strict weak ordering.
                        const float x = std::isnan(row[a]) ? -INFINITY : row[a];
                        const float y = std::isnan(row[b]) ? -INFINITY : row[b];
                        return x > y || (x == y && a < b);
                      });
    for (std::size_t i = 0; i < keep; ++i) {
      const std::size_t index = order[i];
      std::string text = std::to_string(row[index]) + ":" + std::to_string(index);
      if (labels != nullptr && index < labels->size()) text += ":" + (*labels)[index];
      out.push_back(std::move(text));
    }
  }
  shape = batched ? std::vector<int64_t>{static_cast<int64_t>(rows), static_cast<int64_t>(keep)}
                  : std::vector<int64_t>{static_cast<int64_t>(keep)};
  return out;
}

}  // namespace mg::gateway
