// Image files into tensors (gateway/preprocess): every kind a user sends, and hostile ones.
#include "gateway/preprocess/image_decode.h"

#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include "gateway/preprocess/classification.h"
#include "gateway/preprocess/image_tensor.h"
#include "gateway/preprocess/preprocessing.h"
#include "tests/gateway/preprocess/image_files.h"

namespace mg::gateway {
namespace {

std::span<const std::byte> bytes(const std::string& s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

std::vector<uint8_t> ramp(std::size_t n, int step = 1) {
  std::vector<uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * step);
  return v;
}

TEST(ImageDecode, GreyPngIsReadPixelForPixel) {
  const auto pixels = ramp(28 * 28);
  const DecodedImage image =
      decode_image(bytes(test::png_of(pixels.data(), 28, 28, PNG_FORMAT_GRAY)), 1);
  EXPECT_EQ(image.width, 28u);
  EXPECT_EQ(image.height, 28u);
  EXPECT_EQ(image.channels, 1u);
  EXPECT_EQ(image.pixels, pixels);
}

TEST(ImageDecode, ColourAndGreyConvertEitherWay) {
  // RGB with equal channels is grey of that value; grey read as RGB repeats it.
  std::vector<uint8_t> rgb;
  for (uint8_t v : ramp(16, 16)) rgb.insert(rgb.end(), {v, v, v});
  const DecodedImage grey = decode_image(bytes(test::png_of(rgb.data(), 4, 4, PNG_FORMAT_RGB)), 1);
  EXPECT_EQ(grey.pixels, ramp(16, 16));
  const auto g = ramp(16, 16);
  const DecodedImage colour = decode_image(bytes(test::png_of(g.data(), 4, 4, PNG_FORMAT_GRAY)), 3);
  EXPECT_EQ(colour.pixels, rgb);
}

TEST(ImageDecode, PalettePngIsExpanded) {
  const uint8_t colormap[2 * 3] = {10, 20, 30, 200, 100, 50};
  const uint8_t indices[4] = {0, 1, 1, 0};
  const DecodedImage image =
      decode_image(bytes(test::png_of(indices, 2, 2, PNG_FORMAT_RGB_COLORMAP, colormap, 2)), 3);
  EXPECT_EQ(image.pixels,
            (std::vector<uint8_t>{10, 20, 30, 200, 100, 50, 200, 100, 50, 10, 20, 30}));
}

TEST(ImageDecode, SixteenBitPngKeepsItsValues) {
  std::vector<uint16_t> samples;
  for (int v : {0, 1, 127, 128, 254, 255}) samples.push_back(static_cast<uint16_t>(v * 257));
  const DecodedImage image =
      decode_image(bytes(test::png_of(samples.data(), 6, 1, PNG_FORMAT_LINEAR_Y)), 1);
  EXPECT_EQ(image.pixels, (std::vector<uint8_t>{0, 1, 127, 128, 254, 255}));
}

TEST(ImageDecode, AlphaIsCompositedOverBlack) {
  const uint8_t ga[4] = {200, 255, 200, 0};  // opaque 200, fully transparent 200
  const DecodedImage image = decode_image(bytes(test::png_of(ga, 2, 1, PNG_FORMAT_GA)), 1);
  EXPECT_EQ(image.pixels, (std::vector<uint8_t>{200, 0}));
}

TEST(ImageDecode, JpegGreyAndRgb) {
  std::vector<uint8_t> flat(16 * 16, 90);
  const DecodedImage grey = decode_image(bytes(test::jpeg_of(flat, 16, 16, TJPF_GRAY)), 1);
  ASSERT_EQ(grey.pixels.size(), 256u);
  for (uint8_t p : grey.pixels) EXPECT_NEAR(p, 90, 2);
  std::vector<uint8_t> red;
  for (int i = 0; i < 256; ++i) red.insert(red.end(), {220, 30, 40});
  const DecodedImage rgb = decode_image(bytes(test::jpeg_of(red, 16, 16, TJPF_RGB)), 3);
  ASSERT_EQ(rgb.pixels.size(), 768u);
  EXPECT_NEAR(rgb.pixels[0], 220, 4);
  EXPECT_NEAR(rgb.pixels[1], 30, 4);
  EXPECT_NEAR(rgb.pixels[2], 40, 4);
}

TEST(ImageDecode, HostileFilesAreRefusedWithAReason) {
  auto refusal = [](const std::string& file, uint64_t max_pixels = uint64_t{24} << 20) {
    try {
      decode_image(bytes(file), 1, ImageLimits{max_pixels});
    } catch (const ImageError& e) {
      return std::string(e.what());
    }
    return std::string("decoded");
  };
  const auto pixels = ramp(28 * 28);
  const std::string png = test::png_of(pixels.data(), 28, 28, PNG_FORMAT_GRAY);
  EXPECT_NE(refusal(png.substr(0, png.size() / 2)).find("truncated"), std::string::npos);
  EXPECT_NE(refusal("GIF89a....").find("not a PNG or JPEG"), std::string::npos);
  EXPECT_NE(refusal("").find("not a PNG or JPEG"), std::string::npos);
  // A decompression bomb: a header claiming 20000 x 20000, refused before any pixel.
  EXPECT_NE(refusal(test::png_claiming(20000, 20000)).find("over the limit"), std::string::npos);
  EXPECT_NE(refusal(png, 100).find("28x28 pixels, over the limit of 100"), std::string::npos);
  const std::string jpeg = test::jpeg_of(std::vector<uint8_t>(64 * 64, 7), 64, 64, TJPF_GRAY);
  EXPECT_NE(refusal(jpeg.substr(0, jpeg.size() / 2)).find("JPEG"), std::string::npos);
  const std::string cmyk = test::jpeg_of(std::vector<uint8_t>(8 * 8 * 4, 50), 8, 8, TJPF_CMYK);
  EXPECT_NE(refusal(cmyk).find("CMYK"), std::string::npos);
}

TEST(ImageTensor, SameSizeIsScaledAndNormalisedInEitherLayout) {
  DecodedImage image{2, 1, 3, {0, 51, 102, 153, 204, 255}};
  ImageSpec spec;
  spec.height = 1;
  spec.width = 2;
  spec.mean = {0.5f};
  spec.std = {0.5f};
  std::vector<float> chw(6), hwc(6);
  image_to_tensor(image, spec, chw.data());
  spec.channels_last = true;
  image_to_tensor(image, spec, hwc.data());
  const float v[6] = {-1.0f, -0.6f, -0.2f, 0.2f, 0.6f, 1.0f};  // (p / 255 - 0.5) / 0.5
  const std::vector<float> want_chw = {v[0], v[3], v[1], v[4], v[2], v[5]};
  for (int i = 0; i < 6; ++i) {
    EXPECT_NEAR(chw[i], want_chw[i], 1e-6) << i;
    EXPECT_NEAR(hwc[i], v[i], 1e-6) << i;
  }
}

// With scale 1/255 every pixel becomes exactly pixel / 255.0f, as a training pipeline
// computes it (torchvision's ToTensor): the model sees the floats it was evaluated on.
TEST(ImageTensor, ScaleOneOver255IsExactlyADivisionBy255) {
  DecodedImage image{256, 1, 1, ramp(256)};
  ImageSpec spec;
  spec.channels = 1;
  spec.height = 1;
  spec.width = 256;
  spec.scale = 0.00392156862745098;
  std::vector<float> out(256);
  image_to_tensor(image, spec, out.data());
  for (int p = 0; p < 256; ++p) EXPECT_EQ(out[p], static_cast<float>(p) / 255.0f) << p;
}

TEST(ImageTensor, ResizeIsBilinearWithHalfPixelCentres) {
  DecodedImage image{2, 1, 1, {0, 100}};
  ImageSpec spec;
  spec.channels = 1;
  spec.height = 1;
  spec.width = 4;
  spec.scale = 1.0;
  std::vector<float> out(4);
  image_to_tensor(image, spec, out.data());
  // Output centres at input x = -0.25, 0.25, 0.75, 1.25: clamped, then interpolated.
  EXPECT_EQ(out, (std::vector<float>{0.0f, 25.0f, 75.0f, 100.0f}));
  DecodedImage one{1, 1, 1, {42}};  // a 1x1 image fills any size
  spec.height = spec.width = 3;
  out.assign(9, -1.0f);
  image_to_tensor(one, spec, out.data());
  for (float v : out) EXPECT_EQ(v, 42.0f);
}

TEST(PreprocessConfig, FitsTheModelOrTheLoadFailsNamingTheKey) {
  ModelMetadata cnn;
  cnn.max_batch_size = 8;
  cnn.inputs.push_back(TensorDesc{"image", DType::kFp32, {-1, 1, 28, 28}});
  const std::string good =
      R"({"preprocess": {"image": {"type": "image", "color": "grey", "height": 28, "width": 28}}})";
  const Preprocessing p = preprocessing_of(good, cnn);
  ASSERT_NE(p.find("image"), nullptr);
  EXPECT_EQ(p.find("image")->image.channels, 1u);
  EXPECT_TRUE(preprocessing_of(R"({"max_batch_size": 8})", cnn).empty());
  ModelMetadata unbatched = cnn;  // a dynamic first dimension, served without batching
  unbatched.max_batch_size = 0;
  const Preprocessing u = preprocessing_of(good, unbatched);
  const std::string png = test::png_of(ramp(784).data(), 28, 28, PNG_FORMAT_GRAY);
  std::string two;
  for (int i = 0; i < 2; ++i) {
    const auto length = static_cast<uint32_t>(png.size());
    two.append(reinterpret_cast<const char*>(&length), 4);
    two += png;
  }
  const RawTensor t =
      raw_to_tensor(*u.find("image"), unbatched.inputs[0], false, bytes(two), 2, false);
  EXPECT_EQ(t.shape, (std::vector<int64_t>{2, 1, 28, 28}));
  EXPECT_EQ(t.data.size(), 2u * 784 * 4);
  auto reason = [&](const std::string& config) {
    try {
      preprocessing_of(config, cnn);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  auto with = [](const std::string& entry) {
    return R"({"preprocess": {"image": {"type": "image", )" + entry + "}}}";
  };
  EXPECT_NE(reason(with(R"("color": "rgb", "height": 28, "width": 28)")).find("CHW"),
            std::string::npos);  // the model takes 1 channel
  ModelMetadata flat = cnn;      // [N, 784]: only the count can be checked
  flat.inputs[0].shape = {-1, 784};
  EXPECT_TRUE(preprocessing_of(good, flat).find("image"));
  flat.inputs[0].shape = {-1, 785};
  try {
    preprocessing_of(good, flat);
    ADD_FAILURE() << "785 values per row accepted for a 28x28 grey image";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("785 values per row, the image 784"), std::string::npos)
        << e.what();
  }
  EXPECT_NE(
      reason(with(R"("color": "grey", "height": 28, "width": 28, "layout": "NHWC")")).find("HWC"),
      std::string::npos);
  EXPECT_NE(reason(with(R"("color": "grey", "height": 0, "width": 28)")).find("\"height\""),
            std::string::npos);
  EXPECT_NE(reason(with(R"("color": "grey", "height": 28, "width": 28, "std": 0)")).find("std"),
            std::string::npos);
  EXPECT_NE(reason(with(R"("color": "grey", "height": 28, "width": 28, "sharpen": 1)"))
                .find("unknown key \"sharpen\""),
            std::string::npos);
  EXPECT_NE(reason(R"({"preprocess": {"text": {"type": "image"}}})").find("no input"),
            std::string::npos);
}

// A large image is decoded inside a slot of the gate, held until its pixels are freed;
// however many threads decode at once, no more than the gate's slots do so for large
// images, and small ones never wait.
TEST(DecodeGate, BoundsHowManyLargeImagesAreDecodedAtOnce) {
  const std::string large =
      test::png_of(std::vector<uint8_t>(200 * 200, 77).data(), 200, 200, PNG_FORMAT_GRAY);
  const std::string small =
      test::png_of(std::vector<uint8_t>(8 * 8, 77).data(), 8, 8, PNG_FORMAT_GRAY);
  for (const int slots : {1, 2}) {
    DecodeGate gate(slots);
    ImageLimits limits;
    limits.gate = &gate;
    limits.gated_pixels = 100;  // 200 x 200 is large, 8 x 8 is not
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 25; ++i) {
          const DecodedImage image = decode_image(std::as_bytes(std::span(large)), 3, limits);
          EXPECT_NE(image.slot, nullptr);
          std::this_thread::yield();  // hold the slot a little longer while others try
          EXPECT_EQ(decode_image(std::as_bytes(std::span(small)), 1, limits).slot, nullptr);
        }
      });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_GE(gate.max_in_flight(), 1);
    EXPECT_LE(gate.max_in_flight(), slots);
  }
  // The server's gate is the one a model config's image preprocessing uses.
  ModelMetadata model;
  model.inputs.push_back(TensorDesc{"image", DType::kFp32, {-1, 1, 28, 28}});
  const Preprocessing p = preprocessing_of(
      R"({"preprocess": {"image": {"type": "image", "color": "grey", "height": 28, "width": 28}}})",
      model);
  EXPECT_EQ(p.find("image")->image.limits.gate, &large_image_gate());
}

TEST(Classification, TopClassesPerRowBestFirstWithLabels) {
  const std::vector<float> values = {0.1f, 0.7f, 0.2f,     // row 0
                                     0.5f, 0.5f, NAN};     // row 1: a tie, and a NaN
  const std::vector<std::string> labels = {"cat", "dog"};  // class 2 has no label
  std::vector<int64_t> shape = {2, 3};
  EXPECT_EQ(top_classes(values, shape, true, 2, &labels),
            (std::vector<std::string>{"0.700000:1:dog", "0.200000:2", "0.500000:0:cat",
                                      "0.500000:1:dog"}));
  EXPECT_EQ(shape, (std::vector<int64_t>{2, 2}));
  shape = {2, 3};
  EXPECT_EQ(top_classes(values, shape, true, 99, nullptr).size(), 6u);  // k capped at 3
  EXPECT_EQ(shape, (std::vector<int64_t>{2, 3}));
  shape = {6};  // without a batch dimension the whole tensor is one row
  EXPECT_EQ(top_classes(values, shape, false, 1, nullptr),
            (std::vector<std::string>{"0.700000:1"}));
  EXPECT_EQ(shape, (std::vector<int64_t>{1}));
}

TEST(Classification, LabelsMustNameAnOutput) {
  ModelMetadata model;
  model.outputs.push_back(TensorDesc{"probabilities", DType::kFp32, {-1, 10}});
  const Postprocessing p =
      postprocessing_of(R"({"postprocess": {"probabilities": {"labels": ["a", "b"]}}})", model);
  ASSERT_NE(p.labels_of("probabilities"), nullptr);
  EXPECT_EQ(p.labels_of("probabilities")->at(1), "b");
  EXPECT_THROW(postprocessing_of(R"({"postprocess": {"logits": {"labels": []}}})", model),
               std::invalid_argument);
  EXPECT_THROW(postprocessing_of(R"({"postprocess": {"probabilities": {"labels": [1]}}})", model),
               std::invalid_argument);
  EXPECT_THROW(postprocessing_of(R"({"postprocess": {"probabilities": ["a"]}})", model),
               std::invalid_argument);
}

}  // namespace
}  // namespace mg::gateway
