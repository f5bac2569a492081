// Texts in (a model config's "preprocess" of type "text"): the vocabulary file, the two
// tokenisers, padding and truncation, the config's checks; and the postprocess that names
// the classes of a binary (sigmoid) output or reads labels from a version's file.
#include "gateway/preprocess/text_tokens.h"

#include <gtest/gtest.h>

#include <vector>

#include "gateway/preprocess/classification.h"
#include "gateway/preprocess/preprocessing.h"

namespace mg::gateway {
namespace {

TextSpec spec_of(const std::string& vocabulary, uint32_t length) {
  TextSpec spec;
  spec.vocabulary = std::make_shared<const Vocabulary>(parse_vocabulary(vocabulary));
  spec.length = length;
  return spec;
}

std::vector<int64_t> ids(std::string_view text, const TextSpec& spec) {
  std::vector<int64_t> row(spec.length, -7);
  text_to_ids(text, spec, row);
  return row;
}

const std::string kWords = "<pad>\n<unk>\nthe\nlibrary\nc\ngnu\n";

TEST(Vocabulary, IdsAreLineNumbersAndBadFilesAreRefused) {
  const Vocabulary words = parse_vocabulary("<pad>\r\n<unk>\r\nthe\r\n");  // CRLF too
  EXPECT_EQ(words.size(), 3u);
  EXPECT_EQ(words.at("<pad>"), 0);
  EXPECT_EQ(words.at("the"), 2);
  EXPECT_EQ(parse_vocabulary("a\nb").at("b"), 1);  // no final newline
  EXPECT_THROW(parse_vocabulary(""), std::invalid_argument);
  EXPECT_THROW(parse_vocabulary("a\n\nb\n"), std::invalid_argument);   // an empty line
  EXPECT_THROW(parse_vocabulary("a\nb\na\n"), std::invalid_argument);  // a repeated token
  EXPECT_THROW(parse_vocabulary(std::string(1025, 'x')), std::invalid_argument);
}

TEST(TextToIds, AlphanumericRunsLowercasedWithUnknownsAndPadding) {
  const TextSpec spec = spec_of(kWords, 6);
  // The seed model's tokeniser: re.findall("[a-z0-9]+", text.lower()).
  EXPECT_EQ(ids("The GNU C-Library!", spec), (std::vector<int64_t>{2, 5, 4, 3, 0, 0}));
  EXPECT_EQ(ids("the zebra", spec), (std::vector<int64_t>{2, 1, 0, 0, 0, 0}));  // <unk> is 1
  EXPECT_EQ(ids("", spec), (std::vector<int64_t>(6, 0)));
  EXPECT_EQ(ids("caf\xc3\xa9 the", spec),  // non-ASCII bytes separate: "caf", "the"
            (std::vector<int64_t>{1, 2, 0, 0, 0, 0}));
  TextSpec cased = spec;
  cased.lowercase = false;
  EXPECT_EQ(ids("The the", cased), (std::vector<int64_t>{1, 2, 0, 0, 0, 0}));
}

TEST(TextToIds, TruncationAndPaddingAtEitherEnd) {
  TextSpec spec = spec_of(kWords, 3);
  EXPECT_EQ(ids("the library c gnu the", spec), (std::vector<int64_t>{2, 3, 4}));
  spec.truncate_front = true;  // keeps the last tokens
  EXPECT_EQ(ids("the library c gnu the", spec), (std::vector<int64_t>{4, 5, 2}));
  EXPECT_EQ(ids("the library c gnu", spec), (std::vector<int64_t>{3, 4, 5}));
  EXPECT_EQ(ids("the library c", spec), (std::vector<int64_t>{2, 3, 4}));
  spec.pad_front = true;
  EXPECT_EQ(ids("gnu", spec), (std::vector<int64_t>{0, 0, 5}));
  spec.padding_id = 9;
  EXPECT_EQ(ids("gnu", spec), (std::vector<int64_t>{9, 9, 5}));
}

TEST(TextToIds, WhitespaceSplitRemovesKerasFilters) {
  TextSpec spec = spec_of("<pad>\n<unk>\ndon't\nstop\nc++\n", 4);
  spec.split = TextSpec::Split::kWhitespace;
  spec.filters = std::string(kKerasFilters);
  // Keras keeps the apostrophe and drops "+": "c++" is "c", unknown.
  EXPECT_EQ(ids("Don't\tSTOP, c++", spec), (std::vector<int64_t>{2, 3, 1, 0}));
  spec.filters = "";
  EXPECT_EQ(ids("c++ stop,", spec), (std::vector<int64_t>{4, 1, 0, 0}));
}

TEST(TextToIds, ATextOverTheLimitIsRefused) {
  TextSpec spec = spec_of(kWords, 4);
  spec.max_bytes = 10;
  EXPECT_NO_THROW(ids("the gnu c", spec));
  EXPECT_THROW(ids("the gnu c library", spec), RawInputError);
  EXPECT_EQ(ids(std::string(5000, 'a') + " the", spec_of(kWords, 2)),  // a huge token: unknown
            (std::vector<int64_t>{1, 2}));
}

ModelMetadata text_model(DType dtype, int64_t length) {
  ModelMetadata model;
  model.max_batch_size = 8;
  model.inputs.push_back(TensorDesc{"tokens", dtype, {-1, length}});
  model.outputs.push_back(TensorDesc{"probability", DType::kFp32, {-1, 1}});
  return model;
}

std::string load_failure(const std::string& config, const ModelMetadata& model,
                         const std::map<std::string, std::string>& files) {
  try {
    preprocessing_of(config, model, files);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "loaded";
}

TEST(TextPreprocess, TheConfigNeedsTheVersionsVocabularyAndAnIdInput) {
  const std::map<std::string, std::string> files = {{"vocabulary", kWords}};
  const std::string text = R"({"preprocess": {"tokens": {"type": "text"}}})";
  const Preprocessing p = preprocessing_of(text, text_model(DType::kInt64, 32), files);
  ASSERT_NE(p.find("tokens"), nullptr);
  EXPECT_EQ(p.find("tokens")->kind, RawInput::Kind::kText);
  EXPECT_EQ(p.find("tokens")->text.length, 32u);
  EXPECT_EQ(p.find("tokens")->text.unknown_id, 1);  // "<unk>" found in the vocabulary
  EXPECT_NE(load_failure(text, text_model(DType::kInt64, 32), {}).find("no file 'vocabulary'"),
            std::string::npos);
  EXPECT_NE(load_failure(text, text_model(DType::kFp32, 32), files).find("not INT64 or INT32"),
            std::string::npos);
  EXPECT_NE(load_failure(text, text_model(DType::kInt64, -1), files).find("give \"length\""),
            std::string::npos);
  EXPECT_EQ(load_failure(R"({"preprocess": {"tokens": {"type": "text", "length": 16}}})",
                         text_model(DType::kInt32, -1), files),
            "loaded");
  EXPECT_NE(load_failure(R"({"preprocess": {"tokens": {"type": "text", "length": 16}}})",
                         text_model(DType::kInt64, 32), files)
                .find("\"length\" is 16"),
            std::string::npos);
  EXPECT_NE(load_failure(R"({"preprocess": {"tokens": {"type": "text", "unknown": "<oov>"}}})",
                         text_model(DType::kInt64, 32), files)
                .find("not in the vocabulary"),
            std::string::npos);
  EXPECT_NE(load_failure(R"({"preprocess": {"tokens": {"type": "text", "filters": "!"}}})",
                         text_model(DType::kInt64, 32), files)
                .find("\"whitespace\" only"),
            std::string::npos);
  EXPECT_NE(load_failure(R"({"preprocess": {"tokens": {"type": "text", "splt": "x"}}})",
                         text_model(DType::kInt64, 32), files)
                .find("unknown key \"splt\""),
            std::string::npos);
  EXPECT_NE(load_failure(text, text_model(DType::kInt64, 32), {{"vocabulary", "a\na\n"}})
                .find("repeats the token"),
            std::string::npos);
}

// A version's own "preprocess" / "postprocess" (its files of those names) replace the
// model config's.
TEST(TextPreprocess, AVersionsOwnSectionsReplaceTheModelConfigs) {
  const ModelMetadata model = text_model(DType::kInt64, 32);
  const std::map<std::string, std::string> files = {
      {"vocabulary", kWords},
      {"preprocess", R"({"tokens": {"type": "text", "padding": "pre"}})"},
      {"postprocess", R"({"probability": {"sigmoid_threshold": 0.7}})"}};
  const Preprocessing p = preprocessing_of("{}", model, files);
  ASSERT_NE(p.find("tokens"), nullptr);
  EXPECT_TRUE(p.find("tokens")->text.pad_front);
  const Postprocessing post = postprocessing_of(
      R"({"postprocess": {"probability": {"sigmoid_threshold": 0.2}}})", model, files);
  EXPECT_EQ(post.find("probability")->sigmoid_threshold, 0.7f);
  EXPECT_NE(load_failure("{}", model, {{"preprocess", "[1]"}}).find("not a JSON object"),
            std::string::npos);
}

TEST(TextPreprocess, TextsBecomeRowsOfTheDeclaredIdType) {
  const ModelMetadata model = text_model(DType::kInt32, 4);
  const Preprocessing p = preprocessing_of(R"({"preprocess": {"tokens": {"type": "text"}}})", model,
                                           {{"vocabulary", kWords}});
  std::string serialised;
  for (const std::string text : {"GNU libc", "the library"}) {
    const auto length = static_cast<uint32_t>(text.size());
    serialised.append(reinterpret_cast<const char*>(&length), 4);
    serialised += text;
  }
  const RawTensor tensor = raw_to_tensor(*p.find("tokens"), model.inputs[0], true,
                                         std::as_bytes(std::span(serialised)), 2, true);
  EXPECT_EQ(tensor.shape, (std::vector<int64_t>{2, 4}));
  ASSERT_EQ(tensor.data.size(), 8 * sizeof(int32_t));
  const auto* values = reinterpret_cast<const int32_t*>(tensor.data.data());
  EXPECT_EQ(std::vector<int32_t>(values, values + 8),
            (std::vector<int32_t>{5, 1, 0, 0, 2, 3, 0, 0}));
  EXPECT_THROW(raw_to_tensor(*p.find("tokens"), model.inputs[0], true,
                             std::as_bytes(std::span(serialised)).first(10), 2, true),
               RawInputError);  // the second text is missing
}

TEST(Classification, ASigmoidThresholdNamesBothClassesOfABinaryOutput) {
  ModelMetadata model = text_model(DType::kInt64, 32);
  const Postprocessing p =
      postprocessing_of(R"({"postprocess": {"probability": {"sigmoid_threshold": 0.3,)"
                        R"( "labels": ["other", "library"]}}})",
                        model);
  const std::vector<float> scores = {0.9f, 0.2f, 0.4f};
  std::vector<int64_t> shape = {3, 1};
  EXPECT_EQ(classify_rows(scores, shape, true, 2, p.find("probability")),
            (std::vector<std::string>{"0.900000:1:library", "0.100000:0:other", "0.800000:0:other",
                                      "0.200000:1:library",
                                      // over the threshold of 0.3, though under one half
                                      "0.400000:1:library", "0.600000:0:other"}));
  EXPECT_EQ(shape, (std::vector<int64_t>{3, 2}));
  shape = {3, 1};
  EXPECT_EQ(classify_rows(scores, shape, true, 1, p.find("probability"), true)[2],
            R"({"index":1,"label":"library","score":0.400000})");
  shape = {3, 1};
  EXPECT_EQ(classify_rows(scores, shape, true, 1, p.find("probability")).size(), 3u);
  std::vector<int64_t> two_per_row = {1, 3};
  EXPECT_THROW(classify_rows(scores, two_per_row, true, 1, p.find("probability")),
               std::invalid_argument);
  EXPECT_THROW(
      postprocessing_of(R"({"postprocess": {"probability": {"sigmoid_threshold": 1}}})", model),
      std::invalid_argument);
}

TEST(Classification, LabelsMayComeFromTheVersionsFile) {
  ModelMetadata model;
  model.outputs.push_back(TensorDesc{"probabilities", DType::kFp32, {-1, 3}});
  const std::string config = R"({"postprocess": {"probabilities": {"labels_file": "labels"}}})";
  const Postprocessing p = postprocessing_of(config, model, {{"labels", "cat\r\ndog\nbird\n"}});
  EXPECT_EQ(*p.labels_of("probabilities"), (std::vector<std::string>{"cat", "dog", "bird"}));
  EXPECT_THROW(postprocessing_of(config, model, {}), std::invalid_argument);
  EXPECT_THROW(
      postprocessing_of(
          R"({"postprocess": {"probabilities": {"labels_file": "labels", "labels": ["a"]}}})",
          model, {{"labels", "a\n"}}),
      std::invalid_argument);
  EXPECT_THROW(postprocessing_of(R"({"postprocess": {"probabilities": {"label": ["a"]}}})", model),
               std::invalid_argument);
}

}  // namespace
}  // namespace mg::gateway
