// Evaluation before promotion through the admin API, the real registry and the real CPU
// backend: the Fashion-MNIST test set and the text classifier's held-out set as datasets,
// a good and a deliberately damaged
// (weights shuffled) version of the MLP, the gate refusing the damaged one with its
// figures, --force audited, and the figures checked against the data plane's own answers.
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "tests/gateway/api/router_fixture.h"
#include "tests/test_data_files.h"

namespace mg::gateway {
namespace {

struct FashionTestSet {
  std::vector<float> pixels;  // 10000 x 28 x 28, scaled to [0, 1]
  std::string labels;
};

const FashionTestSet& fashion() {
  static const FashionTestSet set = [] {
    const std::string& dir = mg::test::kFashionMnistDir;
    const std::string bytes = mg::test::read_gzip(dir + "t10k-images-idx3-ubyte.gz").substr(16);
    FashionTestSet t;
    for (char b : bytes) t.pixels.push_back(static_cast<uint8_t>(b) / 255.0f);
    t.labels = mg::test::read_gzip(dir + "t10k-labels-idx1-ubyte.gz").substr(8);
    return t;
  }();
  return set;
}

// One record: `count` images from `first` as a binary FP32 tensor of `shape_tail` per image.
std::string record(std::size_t first, std::size_t count, const std::string& shape_tail) {
  const auto& set = fashion();
  json::array labels;
  for (std::size_t i = first; i < first + count; ++i) labels.emplace_back(uint8_t(set.labels[i]));
  const std::size_t bytes = count * 784 * sizeof(float);
  const std::string header = R"({"inputs":[{"name":"image","datatype":"FP32","shape":[)" +
                             std::to_string(count) + shape_tail +
                             R"(],"parameters":{"binary_data_size":)" + std::to_string(bytes) +
                             R"(}}],"labels":)" + json::serialize(labels) + "}\n";
  return header +
         std::string(reinterpret_cast<const char*>(set.pixels.data() + first * 784), bytes);
}

// The test set as records of 100 images (or the first `images` of it).
std::string fashion_dataset(const std::string& shape_tail, std::size_t images = 10000) {
  std::string out;
  for (std::size_t first = 0; first < images; first += 100) {
    out += record(first, std::min<std::size_t>(100, images - first), shape_tail);
  }
  return out;
}

class EvaluationTest : public RouterTest {
 protected:
  std::string upload_artifact(const std::string& content) {
    HttpResponse r = admin("POST", "/admin/v1/artifacts", content);
    EXPECT_EQ(r.status, 201) << r.body;
    return std::string(body_of(r)["digest"].as_string());
  }
  HttpResponse register_dataset(const std::string& name, const std::string& content) {
    return admin(
        "POST", "/admin/v1/datasets",
        json::serialize(json::object{
            {"name", name}, {"artifact", upload_artifact(content)}, {"description", "test"}}));
  }
  HttpResponse upload(const std::string& model, const std::string& bytes,
                      const std::string& query = "") {
    return admin("POST", "/admin/v1/models/" + model + "/versions" + query, bytes);
  }
  int64_t default_version(const std::string& model) {
    return *registry_->resolve(model, "default");
  }
  // The damaged MLP: its weights' rows shuffled (tests/data/shuffle_weights.py).
  std::string damaged_mlp() {
    const std::string out = (dir_ / "damaged.onnx").string();
    const std::string command = std::string("/usr/bin/python3 ") + MG_SOURCE_DIR +
                                "/tests/data/shuffle_weights.py " +
                                (kModels / "fashion-mlp.onnx").string() + " " + out;
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
    return read_file(out);
  }
  // Top-1 accuracy of a version through the data plane: requests of 8 images (the
  // fixture's max batch size).
  double data_plane_accuracy(const std::string& model, int64_t version, std::size_t images) {
    std::size_t correct = 0;
    for (std::size_t first = 0; first < images; first += 8) {
      const std::size_t count = std::min<std::size_t>(8, images - first);
      const std::string rec = record(first, count, ",28,28");
      const std::size_t newline = rec.find('\n');
      HttpResponse r =
          call("POST", "/v2/models/" + model + "/versions/" + std::to_string(version) + "/infer",
               rec.substr(0, newline) + rec.substr(newline + 1),
               {{"Inference-Header-Content-Length", std::to_string(newline)}});
      EXPECT_EQ(r.status, 200) << r.body.substr(0, 300);
      const json::array data = body_of(r)["outputs"].as_array()[0].as_object()["data"].as_array();
      for (std::size_t row = 0; row < count; ++row) {
        std::size_t best = 0;
        for (std::size_t c = 1; c < 10; ++c) {
          if (data[row * 10 + c].to_number<double>() > data[row * 10 + best].to_number<double>())
            best = c;
        }
        correct += best == static_cast<uint8_t>(fashion().labels[first + row]) ? 1 : 0;
      }
    }
    return static_cast<double>(correct) / static_cast<double>(images);
  }
  std::vector<registry::AuditEntry> audit(const std::string& action) {
    std::vector<registry::AuditEntry> found;
    for (auto& e : registry_->audit_log()) {
      if (e.action == action) found.push_back(e);
    }
    return found;
  }
};

TEST_F(EvaluationTest, TheGateRefusesADamagedVersionWithItsFiguresAndForceIsAudited) {
  ASSERT_EQ(register_dataset("fashion-test", fashion_dataset(",28,28")).status, 201);
  HttpResponse gate = admin("PUT", "/admin/v1/models/fashion-mlp/gate",
                            R"({"dataset":"fashion-test","min_accuracy":0.85,)"
                            R"("max_accuracy_drop":0.01,"top_k":3})");
  ASSERT_EQ(gate.status, 200) << gate.body;

  // The good version evaluated: figures equal the data plane's own answers.
  HttpResponse good = admin("POST", "/admin/v1/models/fashion-mlp/versions/1/evaluate", "{}");
  ASSERT_EQ(good.status, 201) << good.body;
  json::object report = body_of(good);
  json::object figures = report["figures"].as_object();
  EXPECT_EQ(report["verdict"].as_string(), "pass") << good.body;
  EXPECT_EQ(figures["rows"].as_int64(), 10000);
  EXPECT_EQ(figures["records"].as_int64(), 100);
  const double accuracy = figures["accuracy"].to_number<double>();
  EXPECT_NEAR(accuracy, data_plane_accuracy("fashion-mlp", 1, 10000), 1e-4);
  EXPECT_GT(accuracy, 0.85);
  EXPECT_GE(figures["top_k"].as_object()["accuracy"].to_number<double>(), accuracy);
  EXPECT_EQ(figures["top_k"].as_object()["k"].as_int64(), 3);
  EXPECT_EQ(figures["classes"].as_array().size(), 10u);
  for (const auto& c : figures["classes"].as_array()) {
    EXPECT_EQ(c.as_object().at("support").as_int64(), 1000);  // the test set's balance
  }
  EXPECT_GT(figures["log_loss"].to_number<double>(), 0);
  EXPECT_TRUE(report["baseline"].is_null());  // version 1 is the default itself
  std::printf("fashion-mlp: accuracy %.4f, top-3 %.4f, log-loss %.4f, %.2f s for 10000 images\n",
              accuracy, figures["top_k"].as_object()["accuracy"].to_number<double>(),
              figures["log_loss"].to_number<double>(), figures["seconds"].to_number<double>());

  // The damaged version, uploaded with --promote: refused with its figures, not promoted.
  HttpResponse damaged = upload("fashion-mlp", damaged_mlp(), "?promote=true");
  ASSERT_EQ(damaged.status, 409) << damaged.body;
  json::object refusal = body_of(damaged);
  EXPECT_EQ(refusal["code"].as_string(), "gate_failed");
  EXPECT_NE(std::string(refusal["error"].as_string()).find("below min_accuracy 0.8500"),
            std::string::npos)
      << damaged.body;
  EXPECT_NE(std::string(refusal["error"].as_string()).find("accuracy dropped by"),
            std::string::npos);
  json::object refused_report = refusal["report"].as_object();
  EXPECT_EQ(refused_report["version"].as_int64(), 2);
  EXPECT_EQ(refused_report["verdict"].as_string(), "fail");
  const double damaged_accuracy =
      refused_report["figures"].as_object()["accuracy"].to_number<double>();
  EXPECT_LT(damaged_accuracy, 0.5);
  EXPECT_EQ(refused_report["baseline"].as_object()["version"].as_int64(), 1);
  EXPECT_DOUBLE_EQ(
      refused_report["baseline"].as_object()["figures"].as_object()["accuracy"].to_number<double>(),
      accuracy);
  EXPECT_EQ(default_version("fashion-mlp"), 1);
  EXPECT_TRUE(registry_->find_version("fashion-mlp", 2).has_value());
  EXPECT_EQ(models_->find("fashion-mlp", 2), nullptr);  // loaded aside, then unloaded
  // promote refuses it too, from the stored report (no second evaluation).
  HttpResponse promote =
      admin("PUT", "/admin/v1/models/fashion-mlp/aliases/default", R"({"version":2})");
  EXPECT_EQ(promote.status, 409) << promote.body;
  EXPECT_EQ(audit("version.evaluate").size(), 2u);  // versions 1 and 2, once each
  // An alias other than default is not gated (a canary may take it).
  EXPECT_EQ(
      admin("PUT", "/admin/v1/models/fashion-mlp/aliases/candidate", R"({"version":2})").status,
      200);

  // --force promotes and the audit log says who forced what past which figures.
  EXPECT_TRUE(audit("version.promote_forced").empty());
  HttpResponse forced =
      admin("PUT", "/admin/v1/models/fashion-mlp/aliases/default", R"({"version":2,"force":true})");
  ASSERT_EQ(forced.status, 200) << forced.body;
  EXPECT_EQ(default_version("fashion-mlp"), 2);
  auto forced_entries = audit("version.promote_forced");
  ASSERT_EQ(forced_entries.size(), 1u);
  EXPECT_EQ(forced_entries[0].target, "fashion-mlp/2");
  EXPECT_NE(forced_entries[0].actor, "");
  EXPECT_NE(forced_entries[0].details_json.find("below min_accuracy"), std::string::npos)
      << forced_entries[0].details_json;

  // Back to a good version: uploaded again as version 3, it is evaluated against the
  // (damaged) default and promoted.
  HttpResponse again =
      upload("fashion-mlp", read_file(kModels / "fashion-mlp.onnx"), "?promote=true");
  ASSERT_EQ(again.status, 201) << again.body;
  EXPECT_EQ(default_version("fashion-mlp"), 3);

  // Reports are kept, newest first; one by id; model show has each version's latest.
  json::object reports = body_of(admin("GET", "/admin/v1/models/fashion-mlp/reports"));
  ASSERT_EQ(reports["reports"].as_array().size(), 3u);
  EXPECT_EQ(reports["reports"].as_array()[0].as_object().at("version").as_int64(), 3);
  const int64_t id = reports["reports"].as_array()[2].as_object().at("id").as_int64();
  json::object first =
      body_of(admin("GET", "/admin/v1/models/fashion-mlp/reports/" + std::to_string(id)));
  EXPECT_EQ(first["version"].as_int64(), 1);
  EXPECT_EQ(body_of(admin("GET", "/admin/v1/models/fashion-mlp/reports?version=2"))["reports"]
                .as_array()
                .size(),
            1u);
  json::object shown = body_of(admin("GET", "/admin/v1/models/fashion-mlp"));
  EXPECT_EQ(shown["config"].as_object()["gate"].as_object()["dataset"].as_string(), "fashion-test");
  const json::array versions = shown["versions"].as_array();
  EXPECT_EQ(versions[1].as_object().at("evaluation").as_object().at("verdict").as_string(), "fail");
}

TEST_F(EvaluationTest, ARecordLargerThanTheMaxBatchRunsInBatchesAndTheCnnPrintsItsSpeed) {
  // The router fixture's models batch at most 8: records of 100 rows run in 13 batches.
  add_model_file("fashion-cnn", kModels / "fashion-cnn.onnx", R"({"max_batch_size": 64})", true);
  ASSERT_EQ(register_dataset("fashion-cnn-test", fashion_dataset(",1,28,28")).status, 201);
  HttpResponse r = admin("POST", "/admin/v1/models/fashion-cnn/versions/1/evaluate",
                         R"({"dataset":"fashion-cnn-test"})");
  ASSERT_EQ(r.status, 201) << r.body;
  json::object figures = body_of(r)["figures"].as_object();
  EXPECT_EQ(figures["rows"].as_int64(), 10000);
  EXPECT_GT(figures["accuracy"].to_number<double>(), 0.88);
  EXPECT_EQ(body_of(r)["verdict"].as_string(), "no_gate");
  std::printf(
      "fashion-cnn: the 10000-image test set evaluated in %.2f s (accuracy %.4f, "
      "p50 %.2f ms, p99 %.2f ms per record of 100)\n",
      figures["seconds"].to_number<double>(), figures["accuracy"].to_number<double>(),
      figures["latency_ms"].as_object()["p50"].to_number<double>(),
      figures["latency_ms"].as_object()["p99"].to_number<double>());

  // The MLP batches at most 8; its dataset's records of 100 rows still run.
  ASSERT_EQ(register_dataset("mlp-small", fashion_dataset(",28,28", 300)).status, 201);
  HttpResponse mlp = admin("POST", "/admin/v1/models/fashion-mlp/versions/1/evaluate",
                           R"({"dataset":"mlp-small"})");
  ASSERT_EQ(mlp.status, 201) << mlp.body;
  EXPECT_NEAR(body_of(mlp)["figures"].as_object()["accuracy"].to_number<double>(),
              data_plane_accuracy("fashion-mlp", 1, 300), 1e-9);
}

// The third seed model, the text classifier (one sigmoid output: P(library)), on its whole
// held-out set of 12,736 tokenised descriptions as a dataset: the evaluation's accuracy is
// the data plane's own (p > 0.5 is class 1).
TEST_F(EvaluationTest, TheTextClassifierIsEvaluatedOnItsHeldOutSet) {
  // The fixture's text classifier batches at most 8: records of 256 rows run in 32 batches.
  const std::string tokens = read_file(kModels / "text-heldout.tokens.bin");
  const std::string labels = read_file(kModels / "text-heldout.labels.bin");
  const std::size_t rows = labels.size(), row_bytes = 32 * sizeof(int64_t);
  ASSERT_EQ(tokens.size(), rows * row_bytes);
  // A request of `count` rows from `first` as the binary extension sends it: its JSON header
  // (with `extra` members) and the tokens.
  const auto request = [&](std::size_t first, std::size_t count, const std::string& extra) {
    const std::size_t bytes = count * row_bytes;
    return std::make_pair(R"({"inputs":[{"name":"tokens","datatype":"INT64","shape":[)" +
                              std::to_string(count) + R"(,32],"parameters":{"binary_data_size":)" +
                              std::to_string(bytes) + "}}]" + extra + "}",
                          tokens.substr(first * row_bytes, bytes));
  };
  std::string dataset;
  for (std::size_t first = 0; first < rows; first += 256) {
    const std::size_t count = std::min<std::size_t>(256, rows - first);
    json::array row_labels;
    for (std::size_t i = first; i < first + count; ++i) row_labels.emplace_back(uint8_t(labels[i]));
    auto [header, data] = request(first, count, R"(,"labels":)" + json::serialize(row_labels));
    dataset += header + "\n" + data;
  }
  ASSERT_EQ(register_dataset("text-heldout", dataset).status, 201);
  HttpResponse r = admin("POST", "/admin/v1/models/text-classifier/versions/1/evaluate",
                         R"({"dataset":"text-heldout"})");
  ASSERT_EQ(r.status, 201) << r.body;
  json::object figures = body_of(r)["figures"].as_object();
  EXPECT_EQ(figures["rows"].as_int64(), static_cast<int64_t>(rows));
  std::size_t correct = 0;
  for (std::size_t first = 0; first < rows; first += 8) {
    const std::size_t count = std::min<std::size_t>(8, rows - first);
    auto [header, data] = request(first, count, "");
    HttpResponse answer =
        call("POST", "/v2/models/text-classifier/infer", header + data,
             {{"Inference-Header-Content-Length", std::to_string(header.size())}});
    ASSERT_EQ(answer.status, 200) << answer.body.substr(0, 300);
    const json::array p = body_of(answer)["outputs"].as_array()[0].as_object()["data"].as_array();
    for (std::size_t row = 0; row < count; ++row) {
      const int predicted = p[row].to_number<double>() > 0.5 ? 1 : 0;
      correct += predicted == static_cast<uint8_t>(labels[first + row]) ? 1 : 0;
    }
  }
  const double accuracy = static_cast<double>(correct) / static_cast<double>(rows);
  EXPECT_NEAR(figures["accuracy"].to_number<double>(), accuracy, 1e-9);
  EXPECT_GT(accuracy, 0.75);
  EXPECT_TRUE(figures["log_loss"].is_number());
  std::printf("text-classifier: %zu held-out descriptions, accuracy %.4f, log-loss %.4f, %.2f s\n",
              rows, accuracy, figures["log_loss"].to_number<double>(),
              figures["seconds"].to_number<double>());
}

TEST_F(EvaluationTest, BadDatasetsAndGatesAreRefusedWithReasons) {
  // Not records at all, records without expectations, binary data past the end.
  expect_error(register_dataset("bad", "not json\n"), 400, "bad_request",
               "dataset 'bad': record 1: not a JSON object");
  expect_error(register_dataset("bad", R"({"inputs":[{"name":"image"}]})"
                                       "\n"),
               400, "bad_request", "\"labels\"");
  std::string truncated = record(0, 2, ",28,28");
  truncated.resize(truncated.size() - 10);
  expect_error(register_dataset("bad", truncated), 400, "bad_request", "bytes of binary data");
  expect_error(admin("POST", "/admin/v1/datasets", R"({"name":"x","artifact":"abc"})"), 400,
               "bad_request", "SHA-256");
  expect_error(admin("POST", "/admin/v1/datasets",
                     R"({"name":"Bad Name","artifact":")" + std::string(64, 'a') + "\"}"),
               400, "bad_request", "dataset");
  EXPECT_TRUE(body_of(admin("GET", "/admin/v1/datasets"))["datasets"].as_array().empty());

  // A record the model cannot run, or whose labels do not fit its answer: named.
  ASSERT_EQ(register_dataset("wrong-shape", record(0, 3, ",1,28,28")).status, 201);
  expect_error(admin("POST", "/admin/v1/models/fashion-mlp/versions/1/evaluate",
                     R"({"dataset":"wrong-shape"})"),
               400, "bad_request", "record 1:");
  std::string labels_past = R"({"inputs":[{"name":"image","datatype":"FP32","shape":[1,28,28],)"
                            R"("data":[)" +
                            std::string("0,") + "0";
  for (int i = 2; i < 784; ++i) labels_past += ",0";
  labels_past += R"(]}],"labels":[10]})"
                 "\n";
  ASSERT_EQ(register_dataset("label-10", labels_past).status, 201);
  expect_error(admin("POST", "/admin/v1/models/fashion-mlp/versions/1/evaluate",
                     R"({"dataset":"label-10"})"),
               400, "bad_request", "label 10 is not one of the output's 10 classes");
  expect_error(
      admin("POST", "/admin/v1/models/fashion-mlp/versions/1/evaluate", R"({"dataset":"nope"})"),
      404, "not_found", "no dataset 'nope'");
  expect_error(admin("POST", "/admin/v1/models/fashion-mlp/versions/1/evaluate", "{}"), 400,
               "bad_request", "name the dataset");

  // Gates: unknown keys, thresholds out of range, a dataset that does not exist.
  expect_error(
      admin("PUT", "/admin/v1/models/fashion-mlp/gate", R"({"dataset":"label-10","min_acc":1})"),
      400, "bad_request", "unknown key 'min_acc'");
  expect_error(admin("PUT", "/admin/v1/models/fashion-mlp/gate",
                     R"({"dataset":"label-10","min_accuracy":1.5})"),
               400, "bad_request", "'min_accuracy' must be a fraction");
  expect_error(admin("PUT", "/admin/v1/models/fashion-mlp/gate", R"({"dataset":"nope"})"), 404,
               "not_found", "no dataset 'nope'");

  // A gate whose dataset was removed refuses promotion until forced.
  ASSERT_EQ(admin("PUT", "/admin/v1/models/fashion-mlp/gate", R"({"dataset":"label-10"})").status,
            200);
  ASSERT_EQ(admin("DELETE", "/admin/v1/datasets/label-10").status, 200);
  ASSERT_EQ(upload("fashion-mlp", read_file(kModels / "fashion-mlp.onnx")).status, 201);
  expect_error(admin("PUT", "/admin/v1/models/fashion-mlp/aliases/default", R"({"version":2})"),
               409, "gate_failed", "the gate's dataset 'label-10' does not exist");
  // The version already serving the alias is not judged again.
  EXPECT_EQ(admin("PUT", "/admin/v1/models/fashion-mlp/aliases/default", R"({"version":1})").status,
            200);
  EXPECT_EQ(admin("DELETE", "/admin/v1/models/fashion-mlp/gate").status, 200);
  EXPECT_EQ(admin("PUT", "/admin/v1/models/fashion-mlp/aliases/default", R"({"version":2})").status,
            200);
  // The infer-scope key may not touch any of it.
  EXPECT_EQ(call("GET", "/admin/v1/datasets").status, 403);
}

}  // namespace
}  // namespace mg::gateway
