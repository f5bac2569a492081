#include "gateway/preprocess/classification.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string_view>

#include "gateway/preprocess/preprocessing.h"

namespace mg::gateway {

const OutputLabels* Postprocessing::find(const std::string& output) const {
  for (const auto& entry : outputs)
    if (entry.output == output) return &entry;
  return nullptr;
}

const std::vector<std::string>* Postprocessing::labels_of(const std::string& output) const {
  const OutputLabels* entry = find(output);
  return entry != nullptr ? &entry->labels : nullptr;
}

namespace {

// A labels file: one label per line.
std::vector<std::string> labels_in(std::string_view file) {
  std::vector<std::string> labels;
  for_each_line(file, [&labels](std::string_view label) { labels.emplace_back(label); });
  return labels;
}

}  // namespace

Postprocessing postprocessing_of(const std::string& config_json, const ModelMetadata& metadata,
                                 const std::map<std::string, std::string>& files) {
  namespace json = boost::json;
  Postprocessing out;
  const json::value section = config_section(config_json, files, "postprocess");
  const json::value* postprocess = section.is_null() ? nullptr : &section;
  if (postprocess == nullptr) return out;
  if (!postprocess->is_object()) {
    throw std::invalid_argument("model config: \"postprocess\" must be an object");
  }
  for (const auto& [key, entry] : postprocess->as_object()) {
    const std::string name(key);
    const std::string where = "model config: postprocess." + name + ": ";
    if (metadata.find_output(name) == nullptr)
      throw std::invalid_argument(where + "the model has no output of that name");
    if (!entry.is_object()) {
      throw std::invalid_argument(where + "must be an object: {\"labels\": [\"…\", …]}");
    }
    const json::object& o = entry.as_object();
    for (const auto& field : o) {
      if (field.key() != "labels" && field.key() != "labels_file" &&
          field.key() != "sigmoid_threshold") {
        throw std::invalid_argument(where + "unknown key \"" + std::string(field.key()) + "\"");
      }
    }
    OutputLabels names{name, {}, std::nullopt};
    if (o.contains("labels") && o.contains("labels_file")) {
      throw std::invalid_argument(where + "give \"labels\" or \"labels_file\", not both");
    }
    if (const auto* labels = o.if_contains("labels")) {
      if (!labels->is_array()) throw std::invalid_argument(where + "\"labels\" must be an array");
      for (const auto& label : labels->as_array()) {
        if (!label.is_string()) throw std::invalid_argument(where + "every label must be a string");
        names.labels.emplace_back(label.as_string());
      }
    }
    if (const auto* file = o.if_contains("labels_file")) {
      if (!file->is_string())
        throw std::invalid_argument(where + "\"labels_file\" must be a string");
      const auto found = files.find(std::string(file->as_string()));
      if (found == files.end()) {
        throw std::invalid_argument(where + "the version has no file '" +
                                    std::string(file->as_string()) +
                                    "' (upload the version with --labels FILE)");
      }
      names.labels = labels_in(found->second);
    }
    if (const auto* threshold = o.if_contains("sigmoid_threshold")) {
      if (!threshold->is_number() || !(threshold->to_number<double>() > 0.0) ||
          !(threshold->to_number<double>() < 1.0)) {
        throw std::invalid_argument(where +
                                    "\"sigmoid_threshold\" must be a number between 0 and 1");
      }
      names.sigmoid_threshold = static_cast<float>(threshold->to_number<double>());
    }
    if (names.labels.empty() && !names.sigmoid_threshold) {
      throw std::invalid_argument(where +
                                  "give \"labels\", \"labels_file\" or \"sigmoid_threshold\"");
    }
    out.outputs.push_back(std::move(names));
  }
  return out;
}

namespace {

// One class as the classification extension answers it: Triton's "score:index:label"
// (score with 6 decimals), or the JSON object form.
std::string class_text(float score, std::size_t index, const std::vector<std::string>* labels,
                       bool objects) {
  const bool labelled = labels != nullptr && index < labels->size();
  if (objects) {  // the score as the strings form prints it (6 decimals); NaN is null
    std::string text = "{\"index\":" + std::to_string(index);
    if (labelled)
      text += ",\"label\":" + boost::json::serialize(boost::json::string((*labels)[index]));
    text += ",\"score\":";
    text += std::isfinite(score) ? std::to_string(score) : std::string("null");
    return text + "}";
  }
  std::string text = std::to_string(score) + ":" + std::to_string(index);
  if (labelled) text += ":" + (*labels)[index];
  return text;
}

}  // namespace

std::vector<std::string> top_classes(std::span<const float> values, std::vector<int64_t>& shape,
                                     bool batched, uint32_t k,
                                     const std::vector<std::string>* labels, bool objects) {
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
      out.push_back(class_text(row[index], index, labels, objects));
    }
  }
  shape = batched ? std::vector<int64_t>{static_cast<int64_t>(rows), static_cast<int64_t>(keep)}
                  : std::vector<int64_t>{static_cast<int64_t>(keep)};
  return out;
}

std::vector<std::string> classify_rows(std::span<const float> values, std::vector<int64_t>& shape,
                                       bool batched, uint32_t k, const OutputLabels* labels,
                                       bool objects) {
  if (labels == nullptr || !labels->sigmoid_threshold) {
    return top_classes(values, shape, batched, k, labels != nullptr ? &labels->labels : nullptr,
                       objects);
  }
  const std::size_t rows = batched && !shape.empty() ? static_cast<std::size_t>(shape[0]) : 1;
  if (values.size() != rows) {
    throw std::invalid_argument(
        "a sigmoid threshold classifies one score per row; the output has " +
        std::to_string(rows == 0 ? 0 : values.size() / rows));
  }
  const std::size_t keep = std::min<uint32_t>(k, 2);
  std::vector<std::string> out;
  out.reserve(rows * keep);
  for (const float p : values) {
    const std::size_t first = p >= *labels->sigmoid_threshold ? 1 : 0;
    for (std::size_t i = 0; i < keep; ++i) {
      const std::size_t index = i == 0 ? first : 1 - first;
      out.push_back(class_text(index == 1 ? p : 1.0f - p, index, &labels->labels, objects));
    }
  }
  shape = batched ? std::vector<int64_t>{static_cast<int64_t>(rows), static_cast<int64_t>(keep)}
                  : std::vector<int64_t>{static_cast<int64_t>(keep)};
  return out;
}

}  // namespace mg::gateway
