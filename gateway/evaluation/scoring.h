#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <span>
#include <vector>

#include "gateway/evaluation/dataset_records.h"

namespace mg::gateway {

// How one class fared: of the rows labelled with it (support) and the rows predicted as it.
struct ClassFigures {
  int64_t support = 0;
  int64_t predicted = 0;
  int64_t correct = 0;  // labelled and predicted as it
};

// A version's figures over a dataset (docs/evaluation.md "Reports").
struct EvaluationFigures {
  std::size_t records = 0;
  std::size_t rows = 0;
  bool classification = false;
  // Classification: top-1 and top-k accuracy, mean log-loss (of the probabilities the
  // output gives, or of its softmax / sigmoid when it gives scores), per class.
  uint32_t top_k = 0;
  double accuracy = 0;
  double top_k_accuracy = 0;
  double log_loss = 0;
  std::vector<ClassFigures> classes;  // by class index
  // Regression: mean squared and absolute error, largest absolute error.
  double mse = 0;
  double mae = 0;
  double max_abs_error = 0;
  // Each record's time through the serving path, and the whole run's.
  double p50_ms = 0;
  double p99_ms = 0;
  double seconds = 0;
};

// As stored in a report: {"records", "rows", "accuracy", "top_k": {"k", "accuracy"},
// "log_loss", "classes": [{"class", "support", "precision", "recall"}], "mse", "mae",
// "max_abs_error", "latency_ms": {"p50", "p99"}, "seconds", "rows_per_second"}.
boost::json::object figures_json(const EvaluationFigures& figures);

// Accumulates a version's answers to a dataset's records.
class Scorer {
 public:
  explicit Scorer(uint32_t top_k) : top_k_(top_k == 0 ? 1 : top_k) {}
  // One record's answer: the scored output, `rows` rows of values.size() / rows each, and
  // the time it took. Throws DatasetError naming the record when the answer and what the
  // record expects do not fit (label count, a label past the classes, value count), or
  // when labelled and regression records are mixed.
  void add(const DatasetRecord& record, std::span<const float> values, std::size_t rows,
           double seconds);
  EvaluationFigures figures(double wall_seconds) const;

 private:
  void add_classified(const DatasetRecord& record, std::span<const float> values, std::size_t rows);
  void add_regression(const DatasetRecord& record, std::span<const float> values);

  uint32_t top_k_;
  std::size_t records_ = 0, rows_ = 0, labelled_ = 0, regression_ = 0;
  std::size_t top1_ = 0, topk_ = 0;
  double log_loss_sum_ = 0;
  std::vector<ClassFigures> classes_;
  double squared_sum_ = 0, absolute_sum_ = 0, max_abs_ = 0;
  std::size_t values_ = 0;
  std::vector<double> latencies_ms_;
};

}  // namespace mg::gateway
