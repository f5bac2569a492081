#include "gateway/evaluation/scoring.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <string>

#include "common/percentile.h"

namespace mg::gateway {
namespace {

namespace json = boost::json;

[[noreturn]] void refuse(const DatasetRecord& record, const std::string& why) {
  throw DatasetError("record " + std::to_string(record.number) + ": " + why);
}

// A row's class probabilities: the output's own when they are probabilities (in [0, 1],
// summing to 1), else its softmax. A single value is P(class 1) of a binary classifier
// (a sigmoid's output; a logit outside [0, 1] goes through the sigmoid).
void probabilities(std::span<const float> row, std::vector<double>& p) {
  p.clear();
  if (row.size() == 1) {
    double one = row[0];
    if (one < 0 || one > 1) one = 1 / (1 + std::exp(-one));
    p = {1 - one, one};
    return;
  }
  double sum = 0;
  bool in_range = true;
  for (float v : row) {
    in_range = in_range && v >= 0 && v <= 1;
    sum += v;
  }
  if (in_range && std::abs(sum - 1) <= 1e-3) {
    p.assign(row.begin(), row.end());
    return;
  }
  const double top = *std::max_element(row.begin(), row.end());
  sum = 0;
  for (float v : row) sum += p.emplace_back(std::exp(v - top));
  for (double& v : p) v /= sum;
}

// A figure as JSON: null when it is not finite (a model answering NaN or infinity makes
// its log-loss or errors so), which JSON cannot write as a number.
json::value number(double value) {
  return std::isfinite(value) ? json::value(value) : json::value(nullptr);
}

double ratio(std::size_t part, std::size_t whole) {
  return whole == 0 ? 0 : static_cast<double>(part) / static_cast<double>(whole);
}

}  // namespace

void Scorer::add(const DatasetRecord& record, std::span<const float> values, std::size_t rows,
                 double seconds) {
  if (rows == 0 || values.empty() || values.size() % rows != 0) {
    refuse(record, "the answer has " + std::to_string(values.size()) + " values for " +
                       std::to_string(rows) + " rows");
  }
  if (!record.labels.empty()) {
    if (regression_ > 0) refuse(record, "a dataset is labelled or has targets, not both");
    add_classified(record, values, rows);
  } else {
    if (labelled_ > 0) refuse(record, "a dataset is labelled or has targets, not both");
    add_regression(record, values);
  }
  ++records_;
  rows_ += rows;
  latencies_ms_.push_back(seconds * 1e3);
}

void Scorer::add_classified(const DatasetRecord& record, std::span<const float> values,
                            std::size_t rows) {
  if (record.labels.size() != rows) {
    refuse(record,
           std::to_string(record.labels.size()) + " labels for " + std::to_string(rows) + " rows");
  }
  const std::size_t width = values.size() / rows;
  const std::size_t classes = width == 1 ? 2 : width;
  if (classes_.size() < classes) classes_.resize(classes);
  std::vector<double> p;
  for (std::size_t row = 0; row < rows; ++row) {
    const auto label = static_cast<std::size_t>(record.labels[row]);
    if (label >= classes) {
      refuse(record, "row " + std::to_string(row) + ": label " + std::to_string(label) +
                         " is not one of the output's " + std::to_string(classes) + " classes");
    }
    probabilities(values.subspan(row * width, width), p);
    std::size_t above = 0;  // classes scored above the label's: its rank
    for (double q : p) above += q > p[label] ? 1 : 0;
    const auto predicted =
        static_cast<std::size_t>(std::max_element(p.begin(), p.end()) - p.begin());
    top1_ += predicted == label ? 1 : 0;
    topk_ += above < top_k_ ? 1 : 0;
    log_loss_sum_ -= std::log(std::clamp(p[label], 1e-15, 1.0));
    ++classes_[label].support;
    ++classes_[predicted].predicted;
    classes_[label].correct += predicted == label ? 1 : 0;
  }
  labelled_ += rows;
}

void Scorer::add_regression(const DatasetRecord& record, std::span<const float> values) {
  if (record.targets.size() != values.size()) {
    refuse(record, std::to_string(record.targets.size()) + " target values for an answer of " +
                       std::to_string(values.size()));
  }
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double error = static_cast<double>(values[i]) - record.targets[i];
    squared_sum_ += error * error;
    absolute_sum_ += std::abs(error);
    max_abs_ = std::max(max_abs_, std::abs(error));
  }
  values_ += values.size();
  ++regression_;
}

EvaluationFigures Scorer::figures(double wall_seconds) const {
  EvaluationFigures f;
  f.records = records_;
  f.rows = rows_;
  f.classification = labelled_ > 0;
  if (f.classification) {
    f.top_k = top_k_;
    f.accuracy = ratio(top1_, labelled_);
    f.top_k_accuracy = ratio(topk_, labelled_);
    f.log_loss = log_loss_sum_ / static_cast<double>(labelled_);
    f.classes = classes_;
  }
  if (values_ > 0) {
    f.mse = squared_sum_ / static_cast<double>(values_);
    f.mae = absolute_sum_ / static_cast<double>(values_);
    f.max_abs_error = max_abs_;
  }
  f.p50_ms = nearest_rank_percentile(latencies_ms_, 0.50);
  f.p99_ms = nearest_rank_percentile(latencies_ms_, 0.99);
  f.seconds = wall_seconds;
  return f;
}

json::object figures_json(const EvaluationFigures& f) {
  json::object out{
      {"records", f.records},
      {"rows", f.rows},
      {"latency_ms", json::object{{"p50", f.p50_ms}, {"p99", f.p99_ms}}},
      {"seconds", f.seconds},
      {"rows_per_second", f.seconds > 0 ? static_cast<double>(f.rows) / f.seconds : 0.0}};
  if (f.classification) {
    out["accuracy"] = f.accuracy;
    out["top_k"] = json::object{{"k", f.top_k}, {"accuracy", f.top_k_accuracy}};
    out["log_loss"] = number(f.log_loss);
    json::array classes;
    for (std::size_t c = 0; c < f.classes.size(); ++c) {
      const ClassFigures& k = f.classes[c];
      classes.emplace_back(json::object{{"class", c},
                                        {"support", k.support},
                                        {"precision", ratio(static_cast<std::size_t>(k.correct),
                                                            static_cast<std::size_t>(k.predicted))},
                                        {"recall", ratio(static_cast<std::size_t>(k.correct),
                                                         static_cast<std::size_t>(k.support))}});
    }
    out["classes"] = std::move(classes);
  } else {
    out["mse"] = number(f.mse);
    out["mae"] = number(f.mae);
    out["max_abs_error"] = number(f.max_abs_error);
  }
  return out;
}

}  // namespace mg::gateway
