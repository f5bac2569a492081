// Preprocessing cost per item (bench/preprocess/cost.sh runs it beside the Python
// reference): an image file decoded, converted, resized and normalised into a model's
// tensor, and a sentence tokenised into its ids — through the gateway's own functions,
// exactly as a request's raw input goes. Inputs: the examples, and the pictures
// bench/preprocess/make_images.py writes into $PREPROCESS_INPUTS.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gateway/preprocess/image_decode.h"
#include "gateway/preprocess/image_tensor.h"
#include "gateway/preprocess/text_tokens.h"

namespace {

using namespace mg::gateway;

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string input(const std::string& name) {
  const char* dir = std::getenv("PREPROCESS_INPUTS");
  return read(std::string(dir != nullptr ? dir : ".") + "/" + name);
}

std::string example(const std::string& name) {
  return read(std::string(MG_EXAMPLES_DIR) + "/" + name);
}

void image_case(benchmark::State& state, const std::string& file, const ImageSpec& spec) {
  std::vector<float> tensor(std::size_t{spec.channels} * spec.height * spec.width);
  const auto bytes = std::as_bytes(std::span(file.data(), file.size()));
  for (auto _ : state) {
    const DecodedImage image = decode_image(bytes, spec.channels, spec.limits);
    image_to_tensor(image, spec, tensor.data());
    benchmark::DoNotOptimize(tensor.data());
  }
  state.SetItemsProcessed(state.iterations());
}

ImageSpec grey28() {
  ImageSpec spec;
  spec.channels = 1;
  spec.height = spec.width = 28;
  return spec;
}

ImageSpec rgb224() {
  ImageSpec spec;
  spec.channels = 3;
  spec.height = spec.width = 224;
  spec.mean = {0.485f, 0.456f, 0.406f};
  spec.std = {0.229f, 0.224f, 0.225f};
  return spec;
}

void BM_png_28_grey(benchmark::State& state) {
  image_case(state, example("images/ankle-boot.png"), grey28());
}
void BM_jpeg_112_rgb_to_28_grey(benchmark::State& state) {
  image_case(state, example("images/trouser.jpg"), grey28());
}
void BM_png_256_rgb_to_224(benchmark::State& state) {
  image_case(state, input("photo.png"), rgb224());
}
void BM_jpeg_256_rgb_to_224(benchmark::State& state) {
  image_case(state, input("photo.jpg"), rgb224());
}

// The seed text model's tokeniser over its 12,736 held-out sentences, one at a time.
void BM_sentence_32_ids(benchmark::State& state) {
  TextSpec spec;
  spec.vocabulary =
      std::make_shared<const Vocabulary>(parse_vocabulary(example("models/text-vocab.txt")));
  spec.length = 32;
  std::vector<std::string> sentences;
  const std::string all = example("models/text-heldout.txt");
  for (std::size_t at = 0; at < all.size();) {
    const std::size_t end = all.find('\n', at);
    sentences.push_back(all.substr(at, end - at));
    at = end == std::string::npos ? all.size() : end + 1;
  }
  std::vector<int64_t> row(32);
  std::size_t i = 0;
  for (auto _ : state) {
    text_to_ids(sentences[i], spec, row);
    benchmark::DoNotOptimize(row.data());
    i = i + 1 == sentences.size() ? 0 : i + 1;
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_png_28_grey);
BENCHMARK(BM_jpeg_112_rgb_to_28_grey);
BENCHMARK(BM_png_256_rgb_to_224);
BENCHMARK(BM_jpeg_256_rgb_to_224);
BENCHMARK(BM_sentence_32_ids);

}  // namespace

BENCHMARK_MAIN();
