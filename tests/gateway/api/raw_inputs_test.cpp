// Raw images in (a model config's "preprocess"): the Fashion-MNIST test set written as PNG
// files and sent raw gets exactly the answers of the same images sent as float tensors,
// through the router and the real CPU backend; JSON carries images in base64; a bad image
// is a 400 naming it; a preprocess that does not fit the model fails its load.
#include <openssl/evp.h>
#include <png.h>

#include <fstream>

#include "tests/gateway/api/router_fixture.h"
#include "tests/gateway/preprocess/image_files.h"
#include "tests/test_data_files.h"

namespace mg::gateway {
namespace {

using mg::test::read_gzip;
using mg::test::serialised;

struct FashionTestSet {
  std::string pixels;  // 10000 x 28 x 28 bytes
  std::string labels;
};

const FashionTestSet& fashion() {
  static const FashionTestSet set = [] {
    const std::string& dir = mg::test::kFashionMnistDir;
    return FashionTestSet{read_gzip(dir + "t10k-images-idx3-ubyte.gz").substr(16),
                          read_gzip(dir + "t10k-labels-idx1-ubyte.gz").substr(8)};
  }();
  return set;
}

std::string base64(const std::string& data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(data.data()),
                                static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

const std::string kPreprocess =
    R"("preprocess": {"image": {"type": "image", "color": "grey", "height": 28, "width": 28,)"
    R"( "scale": 0.00392156862745098}})";

class RawInputsTest : public RouterTest {
 protected:
  // POSTs one binary-extension request: `input` as `datatype` of `shape` with these bytes;
  // returns the probabilities' bytes (or fails the test).
  std::string infer_binary(const std::string& model, const std::string& datatype,
                           const std::string& shape, const std::string& data,
                           const std::string& input = "image") {
    const std::string header = R"({"inputs":[{"name":")" + input + R"(","datatype":")" + datatype +
                               R"(","shape":)" + shape + R"(,"parameters":{"binary_data_size":)" +
                               std::to_string(data.size()) +
                               R"(}}],"parameters":{"binary_data_output":true}})";
    HttpResponse r = call("POST", "/v2/models/" + model + "/infer", header + data,
                          {{"Inference-Header-Content-Length", std::to_string(header.size())}});
    EXPECT_EQ(r.status, 200) << r.body.substr(0, 400);
    std::size_t json_size = 0;
    for (const auto& [k, v] : r.headers)
      if (k == "Inference-Header-Content-Length") json_size = std::stoul(v);
    return r.status == 200 ? r.body.substr(json_size) : std::string();
  }

  static std::string png_of_image(std::size_t index) {
    return test::png_of(fashion().pixels.data() + index * 784, 28, 28, PNG_FORMAT_GRAY);
  }
};

int argmax(const float* p) { return static_cast<int>(std::max_element(p, p + 10) - p); }

TEST_F(RawInputsTest, FashionMnistPngsGetTheAnswersOfTheFloatTensors) {
  add_model_file("raw-cnn", kModels / "fashion-cnn.onnx",
                 R"({"max_batch_size": 100, )" + kPreprocess + "}", true);
  add_model_file("raw-mlp", kModels / "fashion-mlp.onnx",
                 R"({"max_batch_size": 100, )" + kPreprocess + "}", true);
  const FashionTestSet& set = fashion();
  const std::size_t count = set.labels.size();
  ASSERT_EQ(count, 10000u);
  for (const std::string model : {"raw-cnn", "raw-mlp"}) {
    const std::string row_shape = model == "raw-cnn" ? "[100,1,28,28]" : "[100,28,28]";
    std::size_t correct_png = 0, correct_float = 0, identical = 0;
    for (std::size_t first = 0; first < count; first += 100) {
      std::vector<std::string> files;
      std::string floats;
      for (std::size_t i = first; i < first + 100; ++i) {
        files.push_back(png_of_image(i));
        for (std::size_t k = 0; k < 784; ++k) {
          const float v = static_cast<uint8_t>(set.pixels[i * 784 + k]) / 255.0f;
          floats.append(reinterpret_cast<const char*>(&v), 4);
        }
      }
      const std::string from_png = infer_binary(model, "BYTES", "[100]", serialised(files));
      const std::string from_floats = infer_binary(model, "FP32", row_shape, floats);
      ASSERT_EQ(from_png.size(), 100u * 40) << model;
      ASSERT_EQ(from_floats.size(), 100u * 40) << model;
      for (std::size_t r = 0; r < 100; ++r) {
        const auto* p = reinterpret_cast<const float*>(from_png.data()) + r * 10;
        const auto* f = reinterpret_cast<const float*>(from_floats.data()) + r * 10;
        const int label = static_cast<uint8_t>(set.labels[first + r]);
        correct_png += argmax(p) == label;
        correct_float += argmax(f) == label;
        identical += std::memcmp(p, f, 40) == 0;
      }
    }
    std::printf(
        "%s: accuracy %.4f from PNG files, %.4f from float tensors, %zu of %zu answers "
        "bit-identical\n",
        model.c_str(), correct_png / 1e4, correct_float / 1e4, identical, count);
    EXPECT_EQ(correct_png, correct_float) << model;
    EXPECT_EQ(identical, count) << model;
    EXPECT_GT(correct_png, 8500u) << model;
  }
}

TEST_F(RawInputsTest, JsonCarriesImagesInBase64AndBadImagesAreNamed) {
  add_model_file("raw-cnn", kModels / "fashion-cnn.onnx",
                 R"({"max_batch_size": 8, )" + kPreprocess + "}", true);
  const std::string png = png_of_image(0),
                    jpeg_rgb =
                        test::jpeg_of(std::vector<uint8_t>(40 * 30 * 3, 128), 40, 30, TJPF_RGB);
  auto request = [](const std::vector<std::string>& elements) {
    json::array data;
    for (const auto& e : elements) data.emplace_back(json::string(base64(e)));
    return json::serialize(json::object{
        {"inputs",
         json::array{json::object{{"name", "image"},
                                  {"datatype", "BYTES"},
                                  {"shape", json::array{static_cast<int64_t>(elements.size())}},
                                  {"data", data}}}}});
  };
  // A PNG and a JPEG of another size and colour: resized and made grey.
  HttpResponse r = call("POST", "/v2/models/raw-cnn/infer", request({png, jpeg_rgb}));
  ASSERT_EQ(r.status, 200) << r.body;
  const auto outputs = body_of(r)["outputs"].as_array();
  EXPECT_EQ(outputs[0].as_object().at("shape"), json::parse("[2,10]"));
  // The same image sent binary gets the same answer as in base64 over JSON.
  const std::string binary = infer_binary("raw-cnn", "BYTES", "[1]", serialised({png}));
  const auto& data = outputs[0].as_object().at("data").as_array();
  for (int k = 0; k < 10; ++k) {
    float v;
    std::memcpy(&v, binary.data() + 4 * k, 4);
    EXPECT_NEAR(data[k].to_number<double>(), v, 1e-5 * std::abs(v)) << k;  // JSON's digits
  }
  expect_error(call("POST", "/v2/models/raw-cnn/infer", request({png, png.substr(0, 100)})), 400,
               "bad_request", "input 'image', image 1: a corrupt or truncated PNG");
  expect_error(call("POST", "/v2/models/raw-cnn/infer", request({"GIF89a"})), 400, "bad_request",
               "image 0: not a PNG or JPEG");
  expect_error(
      call("POST", "/v2/models/raw-cnn/infer", request({test::png_claiming(20000, 20000)})), 400,
      "bad_request", "20000x20000 pixels, over the limit");
  const std::string cmyk = test::jpeg_of(std::vector<uint8_t>(8 * 8 * 4, 9), 8, 8, TJPF_CMYK);
  expect_error(call("POST", "/v2/models/raw-cnn/infer", request({cmyk})), 400, "bad_request",
               "CMYK");
  expect_error(
      call("POST", "/v2/models/raw-cnn/infer",
           R"({"inputs":[{"name":"image","datatype":"BYTES","shape":[1],"data":["%%%"]}]})"),
      400, "bad_request", "not base64");
  expect_error(call("POST", "/v2/models/raw-cnn/infer", request(std::vector<std::string>(9, png))),
               400, "bad_request", "9 images, over the model's max batch size 8");
  // Tensors are still welcome on a model that takes raw images.
  EXPECT_EQ(infer_binary("raw-cnn", "FP32", "[1,1,28,28]", std::string(784 * 4, '\0')).size(), 40u);
}

// The classification extension: a PNG in, "score:index:label" strings out, as Triton
// answers; over JSON and binary; labels from the config's "postprocess".
TEST_F(RawInputsTest, APngInTheTopClassesWithTheirLabelsOut) {
  add_model_file("labelled", kModels / "fashion-cnn.onnx",
                 R"({"max_batch_size": 8, )" + kPreprocess +
                     R"(, "postprocess": {"probabilities": {"labels": ["t-shirt/top", "trouser",)"
                     R"( "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",)"
                     R"( "ankle boot"]}}})",
                 true);
  const std::string boot = base64(png_of_image(0)), trouser = base64(png_of_image(2));
  const std::string request =
      R"({"inputs":[{"name":"image","datatype":"BYTES","shape":[2],"data":[")" + boot + R"(",")" +
      trouser + R"("]}],"outputs":[{"name":"probabilities","parameters":{"classification":2}}]})";
  HttpResponse r = call("POST", "/v2/models/labelled/infer", request);
  ASSERT_EQ(r.status, 200) << r.body;
  const auto out = body_of(r)["outputs"].as_array()[0].as_object();
  EXPECT_EQ(out.at("datatype"), "BYTES");
  EXPECT_EQ(out.at("shape"), json::parse("[2,2]"));
  const auto& data = out.at("data").as_array();
  ASSERT_EQ(data.size(), 4u);
  EXPECT_TRUE(std::string(data[0].as_string()).ends_with(":9:ankle boot")) << data[0];
  EXPECT_TRUE(std::string(data[2].as_string()).ends_with(":1:trouser")) << data[2];
  EXPECT_TRUE(std::string(data[0].as_string()).starts_with("0.99")) << data[0];
  // The same over the binary extension: BYTES elements, length-prefixed.
  const std::string header =
      R"({"inputs":[{"name":"image","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":)" +
      std::to_string(serialised({png_of_image(0)}).size()) +
      R"(}}],"outputs":[{"name":"probabilities","parameters":{"classification":1,"binary_data":true}}]})";
  r = call("POST", "/v2/models/labelled/infer", header + serialised({png_of_image(0)}),
           {{"Inference-Header-Content-Length", std::to_string(header.size())}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.body.ends_with(":9:ankle boot")) << r.body;
  // A model without labels answers "score:index"; a K out of range is refused.
  json::array zeros(784, json::value(0));
  const std::string unlabelled = json::serialize(json::object{
      {"inputs", json::array{json::object{{"name", "image"},
                                          {"datatype", "FP32"},
                                          {"shape", json::array{1, 28, 28}},
                                          {"data", zeros}}}},
      {"outputs", json::parse(R"([{"name":"probabilities","parameters":{"classification":1}}])")}});
  r = call("POST", "/v2/models/fashion-mlp/infer", unlabelled);
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string top(
      body_of(r)["outputs"].as_array()[0].as_object().at("data").as_array()[0].as_string());
  EXPECT_EQ(std::count(top.begin(), top.end(), ':'), 1) << top;
  expect_error(
      call("POST", "/v2/models/labelled/infer",
           R"({"inputs":[{"name":"image","datatype":"BYTES","shape":[1],"data":[")" + boot +
               R"("]}],"outputs":[{"name":"probabilities","parameters":{"classification":0}}]})"),
      400, "bad_request", "\"classification\" must be an integer");
}

// Images are never decoded on a socket thread: a request that may carry one (a BYTES
// tensor, however spelt, or a body that cannot be read before decoding) goes to a handler
// thread; the model's own tensors may run inline as for any fast model.
TEST_F(RawInputsTest, OnlyRequestsThatMayCarryImagesLeaveTheSocketThread) {
  add_model_file("raw-mlp", kModels / "fashion-mlp.onnx",
                 R"({"max_batch_size": 8, )" + kPreprocess + "}", true);
  const std::string target = "/v2/models/raw-mlp/infer";
  const std::string png = R"({"inputs":[{"name":"image","datatype":"BYTES","shape":[1],"data":[")" +
                          base64(png_of_image(0)) + R"("]}]})";
  const std::string escaped = R"({"inputs":[{"name":"image","datatype":"\u0042YTES","shape":[1],)"
                              R"("data":[")" +
                              base64(png_of_image(0)) + R"("]}]})";
  EXPECT_FALSE(runs_inline(HttpRequest{"POST", target, {}, png}, *services_));
  EXPECT_FALSE(runs_inline(HttpRequest{"POST", target, {}, escaped}, *services_));
  EXPECT_EQ(call("POST", target, escaped).status, 200);  // and it is an image indeed
  std::string floats(784 * 4, '\0');
  const std::string header = R"({"inputs":[{"name":"image","datatype":"FP32","shape":[1,28,28],)"
                             R"("parameters":{"binary_data_size":3136}}]})";
  const std::vector<std::pair<std::string, std::string>> binary = {
      {"Inference-Header-Content-Length", std::to_string(header.size())}};
  ASSERT_EQ(call("POST", target, header + floats, binary).status, 200);  // measured
  // Whether the MLP counts as fast depends on the machine (under a sanitizer it may not):
  // when its own batcher says it does, its tensors run inline, and the same body
  // compressed, or with a length that is not one, does not.
  const HttpRequest tensor{"POST", target, binary, header + floats};
  const auto loaded = models_->find("raw-mlp", 1);
  ASSERT_NE(loaded, nullptr);
  if (loaded->batcher().runs_fast(std::chrono::microseconds(250))) {
    EXPECT_TRUE(runs_inline(tensor, *services_));
    HttpRequest gzipped = tensor;
    gzipped.headers.emplace_back("Content-Encoding", "gzip");
    EXPECT_FALSE(runs_inline(gzipped, *services_));
    HttpRequest lying = tensor;
    lying.headers[0].second = "12x";
    EXPECT_FALSE(runs_inline(lying, *services_));
  } else {
    std::printf("the MLP does not count as fast on this build: the inline checks are skipped\n");
  }
}

// The classification extension's object form: each class {"index", "label", "score"} — in a
// JSON answer the objects themselves, over the binary extension their JSON texts.
TEST_F(RawInputsTest, ClassesMayComeAsJsonObjects) {
  add_model_file("labelled", kModels / "fashion-cnn.onnx",
                 R"({"max_batch_size": 8, )" + kPreprocess +
                     R"(, "postprocess": {"probabilities": {"labels": ["t-shirt/top", "trouser",)"
                     R"( "pullover", "dress \"x\"", "coat", "sandal", "shirt", "sneaker", "bag",)"
                     R"( "ankle boot"]}}})",
                 true);
  const std::string boot = base64(png_of_image(0));
  auto request = [&](const std::string& parameters) {
    return R"({"inputs":[{"name":"image","datatype":"BYTES","shape":[1],"data":[")" + boot +
           R"("]}],"outputs":[{"name":"probabilities","parameters":{)" + parameters + "}}]}";
  };
  HttpResponse r = call("POST", "/v2/models/labelled/infer",
                        request(R"("classification":2,"classification_format":"object")"));
  ASSERT_EQ(r.status, 200) << r.body;
  const json::object answer = body_of(r);
  const auto& out = answer.at("outputs").as_array()[0].as_object();
  EXPECT_EQ(out.at("datatype"), "BYTES");
  EXPECT_EQ(out.at("shape"), json::parse("[1,2]"));
  const auto& best = out.at("data").as_array()[0].as_object();
  EXPECT_EQ(best.at("index"), 9);
  EXPECT_EQ(best.at("label"), "ankle boot");
  EXPECT_GT(best.at("score").to_number<double>(), 0.99);
  EXPECT_LT(out.at("data").as_array()[1].as_object().at("score").to_number<double>(), 0.01);
  // The strings form, asked for by name, is the default's.
  r = call("POST", "/v2/models/labelled/infer",
           request(R"("classification":1,"classification_format":"strings")"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(
      std::string(
          body_of(r)["outputs"].as_array()[0].as_object().at("data").as_array()[0].as_string())
          .ends_with(":9:ankle boot"));
  // Binary: each element the object's JSON text (a quote in a label is escaped).
  const std::string header =
      R"({"inputs":[{"name":"image","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":)" +
      std::to_string(serialised({png_of_image(0)}).size()) +
      R"(}}],"outputs":[{"name":"probabilities","parameters":{"classification":10,)"
      R"("classification_format":"object","binary_data":true}}]})";
  r = call("POST", "/v2/models/labelled/infer", header + serialised({png_of_image(0)}),
           {{"Inference-Header-Content-Length", std::to_string(header.size())}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"({"index":9,"label":"ankle boot","score":0.99)"), std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find(R"("label":"dress \"x\"")"), std::string::npos) << r.body;
  expect_error(call("POST", "/v2/models/labelled/infer",
                    request(R"("classification":1,"classification_format":"table")")),
               400, "bad_request", "\"classification_format\" must be \"strings\" or \"object\"");
  expect_error(
      call("POST", "/v2/models/labelled/infer", request(R"("classification_format":"object")")),
      400, "bad_request", "goes with \"classification\"");
}

TEST_F(RawInputsTest, APreprocessThatDoesNotFitTheModelFailsItsLoad) {
  register_model("wrong", "cpu", read_file(kModels / "fashion-cnn.onnx"),
                 R"({"max_batch_size": 8, "preprocess": {"image": {"type": "image", )"
                 R"("color": "rgb", "height": 28, "width": 28}}})");
  EXPECT_THROW(models_->load("wrong", 1, "test"), BackendError);
  const auto version = registry_->find_version("wrong", 1);
  EXPECT_EQ(version->state, registry::VersionState::kFailed);
  EXPECT_NE(version->state_reason.find("preprocess.image"), std::string::npos)
      << version->state_reason;
  register_model("unlabelled", "cpu", read_file(kModels / "fashion-cnn.onnx"),
                 R"({"postprocess": {"logits": {"labels": ["a"]}}})");
  EXPECT_THROW(models_->load("unlabelled", 1, "test"), BackendError);
  EXPECT_NE(registry_->find_version("unlabelled", 1)->state_reason.find("postprocess.logits"),
            std::string::npos);
}

// Raw text in: the text classifier's vocabulary uploaded through the admin API as a file of
// the version, then its whole held-out set sent as sentences, against the same set sent as
// the committed token ids.
class RawTextTest : public RawInputsTest {
 protected:
  // Uploads `content` as an artifact through the admin API; its digest.
  std::string upload_artifact(const std::string& content) {
    HttpResponse r =
        call("POST", "/admin/v1/artifacts", content, {{"Authorization", "Bearer " + admin_key_}});
    EXPECT_EQ(r.status, 201) << r.body;
    return std::string(body_of(r)["digest"].as_string());
  }
  // Uploads a version of `model` carrying `files` ("name=digest, …"); the answer.
  HttpResponse upload_version(const std::string& model, const std::string& files) {
    return call("POST", "/admin/v1/models/" + model + "/versions?promote=true",
                read_file(kModels / "text-classifier.onnx"),
                {{"Authorization", "Bearer " + admin_key_}, {"X-MG-Version-Files", files}});
  }
  static std::vector<std::string> heldout_texts() {
    std::ifstream in(kModels / "text-heldout.txt");
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
  // One binary-extension request of `tokens` (BYTES texts or INT64 ids); the probabilities.
  std::string infer_texts(const std::string& datatype, const std::string& shape,
                          const std::string& data) {
    return infer_binary("text", datatype, shape, data, "tokens");
  }

  const std::string kTextConfig =
      R"({"max_batch_size": 128, "preprocess": {"tokens": {"type": "text"}},)"
      R"( "postprocess": {"probability": {"sigmoid_threshold": 0.5,)"
      R"( "labels": ["other", "library"]}}})";
};

TEST_F(RawTextTest, TheHeldOutSentencesGetTheAnswersOfTheirTokenIds) {
  ASSERT_EQ(admin("POST", "/admin/v1/models",
                  R"({"name": "text", "backend": "cpu", "config": )" + kTextConfig + "}")
                .status,
            201);
  const std::string vocabulary = read_file(kModels / "text-vocab.txt");
  const std::string digest = upload_artifact(vocabulary);
  HttpResponse r = upload_version("text", "vocabulary=" + digest);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(body_of(r)["files"], json::parse(R"({"vocabulary": ")" + digest + R"("})"));
  EXPECT_EQ(body_of(r)["state"], "ready");

  const std::vector<std::string> texts = heldout_texts();
  const std::string ids = read_file(kModels / "text-heldout.tokens.bin");
  const std::string labels = read_file(kModels / "text-heldout.labels.bin");
  ASSERT_EQ(texts.size(), 12736u);
  ASSERT_EQ(ids.size(), texts.size() * 32 * sizeof(int64_t));
  std::size_t correct_text = 0, correct_ids = 0, identical = 0;
  for (std::size_t first = 0; first < texts.size(); first += 128) {
    const std::size_t n = std::min<std::size_t>(128, texts.size() - first);
    const std::string rows = "[" + std::to_string(n);
    const std::string from_text =
        infer_texts("BYTES", rows + "]",
                    serialised(std::vector<std::string>(
                        texts.begin() + static_cast<std::ptrdiff_t>(first),
                        texts.begin() + static_cast<std::ptrdiff_t>(first + n))));
    const std::string from_ids =
        infer_texts("INT64", rows + ",32]", ids.substr(first * 256, n * 256));
    ASSERT_EQ(from_text.size(), n * 4);
    ASSERT_EQ(from_ids.size(), n * 4);
    for (std::size_t i = 0; i < n; ++i) {
      float p, q;
      std::memcpy(&p, from_text.data() + 4 * i, 4);
      std::memcpy(&q, from_ids.data() + 4 * i, 4);
      const bool library = labels[first + i] != 0;
      correct_text += (p > 0.5f) == library;
      correct_ids += (q > 0.5f) == library;
      identical += std::memcmp(&p, &q, 4) == 0;
    }
  }
  std::printf(
      "text classifier: accuracy %.4f from sentences, %.4f from token ids, %zu of %zu "
      "answers bit-identical\n",
      static_cast<double>(correct_text) / static_cast<double>(texts.size()),
      static_cast<double>(correct_ids) / static_cast<double>(texts.size()), identical,
      texts.size());
  EXPECT_EQ(identical, texts.size());
  EXPECT_EQ(correct_text, correct_ids);
  EXPECT_GT(correct_text, texts.size() * 9 / 10);

  // JSON carries texts as strings; the answer can be a class name.
  r = call("POST", "/v2/models/text/infer",
           R"({"inputs":[{"name":"tokens","datatype":"BYTES","shape":[2],)"
           R"("data":["GNU C library: shared libraries","a chess game for the terminal"]}],)"
           R"("outputs":[{"name":"probability","parameters":{"classification":1}}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  const json::object answer = body_of(r);
  const auto& top = answer.at("outputs").as_array()[0].as_object();
  EXPECT_EQ(top.at("shape"), json::parse("[2,1]"));
  EXPECT_TRUE(std::string(top.at("data").as_array()[0].as_string()).ends_with(":1:library")) << top;
  EXPECT_TRUE(std::string(top.at("data").as_array()[1].as_string()).ends_with(":0:other")) << top;
  expect_error(
      call("POST", "/v2/models/text/infer",
           R"({"inputs":[{"name":"tokens","datatype":"BYTES","shape":[1,1],"data":["a"]}]})"),
      400, "bad_request", "raw texts are sent as a BYTES tensor of shape [N]");
  // Texts tokenise in microseconds: a small body of them may run on the socket thread,
  // as the model's own tensors may, when the model counts as fast (its batcher says).
  HttpRequest sentence{"POST",
                       "/v2/models/text/infer",
                       {},
                       R"({"inputs":[{"name":"tokens","datatype":"BYTES","shape":[1],)"
                       R"("data":["GNU C library"]}]})"};
  if (models_->find("text", 1)->batcher().runs_fast(std::chrono::microseconds(250))) {
    EXPECT_TRUE(runs_inline(sentence, *services_));
  }
}

TEST_F(RawTextTest, AVersionsFilesAreCheckedWhenUploadedAndLoaded) {
  ASSERT_EQ(admin("POST", "/admin/v1/models",
                  R"({"name": "text", "backend": "cpu", "config": )" + kTextConfig + "}")
                .status,
            201);
  // A file that was never uploaded, a malformed header, a version without its vocabulary.
  expect_error(upload_version("text", "vocabulary=" + std::string(64, 'a')), 404, "not_found",
               "file 'vocabulary'");
  expect_error(upload_version("text", "vocabulary"), 400, "bad_request", "name=sha256");
  expect_error(upload_version("text", "Vocab=" + std::string(64, 'a')), 400, "bad_request",
               "version file name 'Vocab' is invalid");
  expect_error(upload_version("text", ""), 400, "bad_request",
               "the version has no file 'vocabulary'");
  // A vocabulary that is not one fails the load with the reason.
  const std::string bad = upload_artifact("the\nthe\n");
  expect_error(upload_version("text", "vocabulary=" + bad), 400, "bad_request",
               "repeats the token 'the'");
  // The file is stored like a model: encrypted when the server encrypts, content-addressed.
  const std::string good = upload_artifact(read_file(kModels / "text-vocab.txt"));
  EXPECT_EQ(good, upload_artifact(read_file(kModels / "text-vocab.txt")));
  EXPECT_TRUE(registry_->artifacts().contains(good));
  HttpResponse r = upload_version("text", "vocabulary=" + good);
  ASSERT_EQ(r.status, 201) << r.body;
}

}  // namespace
}  // namespace mg::gateway
