// The evaluation layer against figures computed by hand: the dataset reader (JSON Lines and
// binary records, every refusal), the scorer (top-1, top-k, per-class precision and recall,
// log-loss of probabilities, of logits and of a sigmoid; regression errors; latency
// percentiles) and the gate's thresholds.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>

#include "gateway/evaluation/dataset_records.h"
#include "gateway/evaluation/gate.h"
#include "gateway/evaluation/scoring.h"

namespace mg::gateway {
namespace {

namespace json = boost::json;

void expect_refused(const std::string& file, const std::string& fragment) {
  try {
    summarize_dataset(file);
    ADD_FAILURE() << "accepted: " << file.substr(0, 80);
  } catch (const DatasetError& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(DatasetReader, ReadsJsonAndBinaryRecordsInTurn) {
  const std::string binary(8, '\x01');
  const std::string file =
      R"({"inputs":[{"name":"x","datatype":"FP32","shape":[2],"data":[1,2]}],"labels":[0,1]})"
      "\n\n"
      R"({"inputs":[{"name":"x","parameters":{"binary_data_size":8}}],"targets":[[1.5],[2]],)"
      R"("output":"y"})"
      "\n" +
      binary + R"({"inputs":[{"name":"x","data":[3]}],"labels":[2]})";  // last line, no newline
  DatasetReader reader(file);
  auto first = reader.next();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->number, 1u);
  EXPECT_EQ(first->labels, (std::vector<int64_t>{0, 1}));
  EXPECT_TRUE(first->binary.empty());
  EXPECT_EQ(first->output, "");
  auto second = reader.next();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->binary, binary);
  EXPECT_EQ(second->targets, (std::vector<double>{1.5, 2}));
  EXPECT_EQ(second->output, "y");
  EXPECT_EQ(second->header.find('\n'), std::string_view::npos);
  auto third = reader.next();
  ASSERT_TRUE(third);
  EXPECT_EQ(third->labels, (std::vector<int64_t>{2}));
  EXPECT_FALSE(reader.next());
  const DatasetSummary summary = summarize_dataset(file);
  EXPECT_EQ(summary.records, 3u);
  EXPECT_EQ(summary.labelled_rows, 3u);
  EXPECT_EQ(summary.target_values, 2u);
}

TEST(DatasetReader, RefusesWhatIsNotARecordNamingIt) {
  expect_refused("", "no records");
  expect_refused("\n\n", "no records");
  expect_refused("{\"inputs\":[{}],\"labels\":[0]}\n[1]\n", "record 2: not a JSON object");
  expect_refused("{\"labels\":[0]}", "non-empty \"inputs\"");
  expect_refused("{\"inputs\":[],\"labels\":[0]}", "non-empty \"inputs\"");
  expect_refused("{\"inputs\":[{}]}", "exactly one of them");
  expect_refused("{\"inputs\":[{}],\"labels\":[0],\"targets\":[1]}", "exactly one of them");
  expect_refused("{\"inputs\":[{}],\"labels\":[]}", "non-empty array");
  expect_refused("{\"inputs\":[{}],\"labels\":[-1]}", "class indexes");
  expect_refused("{\"inputs\":[{}],\"labels\":[1.5]}", "class indexes");
  expect_refused("{\"inputs\":[{}],\"targets\":[\"a\"]}", "numbers only");
  expect_refused("{\"inputs\":[{}],\"targets\":[[]]}", "is empty");
  expect_refused("{\"inputs\":[{}],\"labels\":[0],\"output\":3}", "\"output\"");
  expect_refused("{\"inputs\":[{\"parameters\":{\"binary_data_size\":-1}}],\"labels\":[0]}",
                 "non-negative");
  expect_refused("{\"inputs\":[{\"parameters\":{\"binary_data_size\":9}}],\"labels\":[0]}\n1234",
                 "declare 9 bytes of binary data, the file has 4 left");
  // Sizes whose sum would wrap around to a small number (found by the fuzzer's property).
  expect_refused(
      "{\"inputs\":[{\"parameters\":{\"binary_data_size\":9223372036854775807}},"
      "{\"parameters\":{\"binary_data_size\":9223372036854775807}},"
      "{\"parameters\":{\"binary_data_size\":2}}],\"labels\":[0]}\n",
      "larger than any dataset");
  std::string deep =
      "{\"inputs\":[{}],\"targets\":" + std::string(40, '[') + "1" + std::string(40, ']') + "}";
  expect_refused(deep, "too deep");  // the JSON parser's own depth limit
}

DatasetRecord labelled(std::vector<int64_t> labels) {
  DatasetRecord r;
  r.number = 1;
  r.labels = std::move(labels);
  return r;
}

TEST(Scorer, ClassificationFiguresMatchAHandComputation) {
  Scorer scorer(2);
  // Probabilities (rows sum to 1): row 0 right (0.7 on class 0), row 1 wrong but second
  // (class 1 is 0.3, class 2 0.6), row 2 wrong and third.
  const std::vector<float> p = {0.7f, 0.2f, 0.1f,  //
                                0.1f, 0.3f, 0.6f,  //
                                0.5f, 0.4f, 0.1f};
  scorer.add(labelled({0, 1, 2}), p, 3, 0.002);
  const EvaluationFigures f = scorer.figures(1.0);
  EXPECT_EQ(f.rows, 3u);
  EXPECT_TRUE(f.classification);
  EXPECT_DOUBLE_EQ(f.accuracy, 1.0 / 3);
  EXPECT_DOUBLE_EQ(f.top_k_accuracy, 2.0 / 3);
  EXPECT_NEAR(f.log_loss, -(std::log(0.7) + std::log(0.3) + std::log(0.1)) / 3, 1e-6);
  ASSERT_EQ(f.classes.size(), 3u);
  // Predicted: 0, 2, 0. Class 0: support 1, predicted 2, correct 1.
  EXPECT_EQ(f.classes[0].support, 1);
  EXPECT_EQ(f.classes[0].predicted, 2);
  EXPECT_EQ(f.classes[0].correct, 1);
  EXPECT_EQ(f.classes[1].predicted, 0);
  EXPECT_EQ(f.classes[2].predicted, 1);
  EXPECT_EQ(f.classes[2].correct, 0);
  const json::object shown = figures_json(f);
  const json::array classes = shown.at("classes").as_array();
  EXPECT_DOUBLE_EQ(classes[0].as_object().at("precision").to_number<double>(), 0.5);
  EXPECT_DOUBLE_EQ(classes[0].as_object().at("recall").to_number<double>(), 1.0);
  EXPECT_DOUBLE_EQ(classes[1].as_object().at("precision").to_number<double>(), 0.0);
  EXPECT_DOUBLE_EQ(shown.at("rows_per_second").to_number<double>(), 3.0);
  EXPECT_DOUBLE_EQ(shown.at("latency_ms").as_object().at("p99").to_number<double>(), 2.0);
}

TEST(Scorer, LogitsGoThroughSoftmaxAndASingleValueIsABinaryClassifier) {
  Scorer logits(1);
  logits.add(labelled({1}), std::vector<float>{0.0f, 2.0f}, 1, 0.001);
  const double p1 = std::exp(2.0) / (1 + std::exp(2.0));
  EXPECT_NEAR(logits.figures(1).log_loss, -std::log(p1), 1e-6);
  EXPECT_DOUBLE_EQ(logits.figures(1).accuracy, 1.0);

  Scorer sigmoid(1);
  // P(class 1) per row: 0.9 labelled 1 (right), 0.2 labelled 1 (wrong), 0.4 labelled 0.
  sigmoid.add(labelled({1, 1, 0}), std::vector<float>{0.9f, 0.2f, 0.4f}, 3, 0.001);
  const EvaluationFigures f = sigmoid.figures(1);
  EXPECT_DOUBLE_EQ(f.accuracy, 2.0 / 3);
  EXPECT_NEAR(f.log_loss, -(std::log(0.9) + std::log(0.2) + std::log(0.6)) / 3, 1e-6);
  ASSERT_EQ(f.classes.size(), 2u);
  EXPECT_EQ(f.classes[1].support, 2);
  // A value outside [0, 1] is a logit: sigmoid(0) = 0.5 for either class; ties rank the
  // label first (no class scored above it).
  Scorer logit(1);
  logit.add(labelled({0}), std::vector<float>{-3.0f}, 1, 0.001);
  EXPECT_NEAR(logit.figures(1).log_loss, -std::log(1 - 1 / (1 + std::exp(3.0))), 1e-6);
}

TEST(Scorer, RegressionErrorsAndMismatchesAreNamed) {
  Scorer scorer(5);
  DatasetRecord r;
  r.number = 4;
  r.targets = {1.0, 2.0, 4.0};
  scorer.add(r, std::vector<float>{1.5f, 2.0f, 2.0f}, 3, 0.001);
  const EvaluationFigures f = scorer.figures(1);
  EXPECT_FALSE(f.classification);
  EXPECT_DOUBLE_EQ(f.mse, (0.25 + 0 + 4) / 3);
  EXPECT_DOUBLE_EQ(f.mae, (0.5 + 0 + 2) / 3);
  EXPECT_DOUBLE_EQ(f.max_abs_error, 2);
  EXPECT_FALSE(figures_json(f).contains("accuracy"));
  auto refused = [&](const DatasetRecord& record, std::vector<float> values, std::size_t rows,
                     const std::string& fragment) {
    try {
      scorer.add(record, values, rows, 0);
      ADD_FAILURE() << "accepted";
    } catch (const DatasetError& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  refused(r, {1, 2}, 2, "record 4: 3 target values for an answer of 2");
  refused(labelled({0}), {0.5f, 0.5f}, 1, "labelled or has targets, not both");
  Scorer classes(1);
  auto refused_labels = [&](std::vector<int64_t> labels, std::vector<float> values,
                            std::size_t rows, const std::string& fragment) {
    try {
      classes.add(labelled(std::move(labels)), values, rows, 0);
      ADD_FAILURE() << "accepted";
    } catch (const DatasetError& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  refused_labels({0, 1}, {0.5f, 0.5f}, 1, "2 labels for 1 rows");
  refused_labels({3}, {0.2f, 0.3f, 0.5f}, 1, "label 3 is not one of the output's 3 classes");
  refused_labels({0}, {0.2f, 0.3f, 0.5f}, 2, "3 values for 2 rows");
}

TEST(Gate, ThresholdsAreReadCheckedAndApplied) {
  EXPECT_FALSE(gate_of(R"({"max_batch_size":8})"));
  EXPECT_FALSE(gate_of("not json"));
  const auto gate = gate_of(
      R"({"gate":{"dataset":"d","min_accuracy":0.8,"max_accuracy_drop":0.02,"max_p99_ms":5}})");
  ASSERT_TRUE(gate);
  EXPECT_EQ(gate->top_k, 5u);
  EXPECT_EQ(json::serialize(gate_json(*gate)),
            R"({"dataset":"d","top_k":5,"min_accuracy":8E-1,"max_accuracy_drop":2E-2,)"
            R"("max_p99_ms":5E0})");
  for (const auto& [config, fragment] : std::vector<std::pair<std::string, std::string>>{
           {R"({"gate":[]})", "JSON object"},
           {R"({"gate":{}})", "'dataset'"},
           {R"({"gate":{"dataset":"d","min_accuracy":-0.1}})", "'min_accuracy'"},
           {R"({"gate":{"dataset":"d","max_p99_ms":"5"}})", "'max_p99_ms'"},
           {R"({"gate":{"dataset":"d","top_k":0}})", "'top_k'"},
           {R"({"gate":{"dataset":"d","min_acc":1}})", "unknown key 'min_acc'"}}) {
    try {
      gate_of(config);
      ADD_FAILURE() << config;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  }
  const json::object good = json::parse(R"({"accuracy":0.85,"latency_ms":{"p99":4}})").as_object();
  const json::object before = json::parse(R"({"accuracy":0.86})").as_object();
  EXPECT_TRUE(gate_failures(*gate, good, &before).empty());
  EXPECT_TRUE(gate_failures(*gate, good, nullptr).empty());
  const json::object worse = json::parse(R"({"accuracy":0.79,"latency_ms":{"p99":6}})").as_object();
  const auto failures = gate_failures(*gate, worse, &before);
  ASSERT_EQ(failures.size(), 3u);
  EXPECT_EQ(failures[0], "accuracy 0.7900 is below min_accuracy 0.8000");
  EXPECT_EQ(
      failures[1],
      "accuracy dropped by 0.0700 (from 0.8600 to 0.7900), more than max_accuracy_drop 0.0200");
  EXPECT_EQ(failures[2], "p99 latency 6.00 ms is above max_p99_ms 5.00");
  const json::object regression = json::parse(R"({"mse":1,"latency_ms":{"p99":1}})").as_object();
  EXPECT_NE(gate_failures(*gate, regression, nullptr)[0].find("has no labels"), std::string::npos);
}

}  // namespace
}  // namespace mg::gateway
