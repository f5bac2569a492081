// Resize (opsets 10 to 17) and Upsample (7 to 9): nearest, linear and cubic interpolation
// over any number of dimensions, with every coordinate transformation mode and nearest
// rounding mode of opset 17. Separable: one pass per resized axis, last axis first, each
// output index reading at most four input indices with precomputed weights (the ONNX
// reference interpolates the same way, innermost axis first).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "plugins/cpu/kernel.h"
#include "plugins/cpu/kernels/kernels.h"

namespace mg::cpu {
namespace {

struct Options {
  std::string mode = "nearest";
  std::string transform = "half_pixel";
  std::string nearest = "round_prefer_floor";
  float cubic_a = -0.75f;
  bool exclude_outside = false;
  float extrapolation = 0.f;
};

// The taps of one output index along one axis: input indices and weights, or an
// extrapolated value (tf_crop_and_resize outside the input).
struct Taps {
  int64_t index[4] = {0, 0, 0, 0};
  float weight[4] = {0, 0, 0, 0};
  int count = 0;
  bool extrapolate = false;
};

// The input coordinate of output index `out_index`. The resized length is in × scale,
// not rounded (as the ONNX reference computes it: it differs from the output size when
// scales, not sizes, were given).
double source_coordinate(const Options& o, int64_t out_index, int64_t in, double scale,
                         double roi_start, double roi_end) {
  const double x = static_cast<double>(out_index);
  const double resized = static_cast<double>(in) * scale;
  if (o.transform == "half_pixel") return (x + 0.5) / scale - 0.5;
  if (o.transform == "pytorch_half_pixel") return resized > 1 ? (x + 0.5) / scale - 0.5 : 0.0;
  if (o.transform == "align_corners") {
    return resized == 1 ? 0.0 : x * static_cast<double>(in - 1) / (resized - 1);
  }
  if (o.transform == "asymmetric") return x / scale;
  if (o.transform == "tf_half_pixel_for_nn") return (x + 0.5) / scale;
  // tf_crop_and_resize
  return resized > 1 ? roi_start * static_cast<double>(in - 1) +
                           x * (roi_end - roi_start) * static_cast<double>(in - 1) / (resized - 1)
                     : 0.5 * (roi_start + roi_end) * static_cast<double>(in - 1);
}

int64_t nearest_index(const Options& o, double x, double scale) {
  if (o.nearest == "floor") return static_cast<int64_t>(std::floor(x));
  if (o.nearest == "ceil") return static_cast<int64_t>(std::ceil(x));
  if (o.nearest == "simple") return static_cast<int64_t>(scale < 1 ? std::ceil(x) : std::floor(x));
  const double frac = x - std::floor(x);
  if (frac == 0.5)
    return static_cast<int64_t>(o.nearest == "round_prefer_ceil" ? std::ceil(x) : std::floor(x));
  return static_cast<int64_t>(std::round(x));
}

Taps taps_for(const Options& o, int64_t out_index, int64_t in, double scale, double roi_start,
              double roi_end) {
  Taps t;
  const double x = source_coordinate(o, out_index, in, scale, roi_start, roi_end);
  if (o.transform == "tf_crop_and_resize" && (x < 0 || x > static_cast<double>(in - 1))) {
    t.extrapolate = true;
    return t;
  }
  auto clamp = [in](int64_t i) { return std::clamp<int64_t>(i, 0, in - 1); };
  if (o.mode == "nearest") {
    t.count = 1;
    t.index[0] = clamp(nearest_index(o, x, scale));
    t.weight[0] = 1;
    return t;
  }
  const double base = std::floor(x);
  const double r = x - base;
  const auto b = static_cast<int64_t>(base);
  if (o.mode == "linear") {
    t.count = 2;
    t.index[0] = clamp(b);
    t.index[1] = clamp(b + 1);
    t.weight[0] = static_cast<float>(1 - r);
    t.weight[1] = static_cast<float>(r);
    return t;
  }
  // cubic: taps b-1 .. b+2
  const double a = o.cubic_a;
  const double c[4] = {((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a,
                       ((a + 2) * r - (a + 3)) * r * r + 1,
                       ((a + 2) * (1 - r) - (a + 3)) * (1 - r) * (1 - r) + 1,
                       ((a * (2 - r) - 5 * a) * (2 - r) + 8 * a) * (2 - r) - 4 * a};
  double sum = 0;
  t.count = 4;
  for (int k = 0; k < 4; ++k) {
    const int64_t i = b - 1 + k;
    const bool outside = i < 0 || i >= in;
    t.index[k] = clamp(i);
    t.weight[k] = static_cast<float>(o.exclude_outside && outside ? 0 : c[k]);
    sum += t.weight[k];
  }
  if (o.exclude_outside && sum != 0) {
    for (float& w : t.weight) w = static_cast<float>(w / sum);
  }
  return t;
}

// Fails unless an FP32 tensor of `shape` fits the pool's largest buffer (counted in
// double: the dimensions may multiply past int64).
void check_fits(const KernelContext& ctx, const Shape& shape) {
  double elements = 1;
  for (int64_t d : shape) elements *= static_cast<double>(d);
  if (elements * sizeof(float) > static_cast<double>(BufferPool::kMaxBytes)) {
    ctx.fail("the resized tensor is too large");
  }
}

// Resizes `x` to `out_shape` with per-axis scales (and roi for tf_crop_and_resize).
void resize_into(const KernelContext& ctx, const Options& o, const Tensor& x,
                 const Shape& out_shape, const std::vector<double>& scales,
                 const std::vector<double>& roi, Tensor& y) {
  const int64_t rank = x.rank();
  std::vector<float> current(x.data<const float>(), x.data<const float>() + x.size());
  Shape shape = x.shape;
  for (int64_t axis = rank - 1; axis >= 0; --axis) {
    const auto a = static_cast<std::size_t>(axis);
    const int64_t in = shape[a], out = out_shape[a];
    const bool identity = in == out && scales[a] == 1.0 && o.transform != "tf_crop_and_resize";
    if (identity) continue;
    if (in == 0 && out > 0) ctx.fail("cannot resize an empty dimension");
    std::vector<Taps> taps(static_cast<std::size_t>(out));
    for (int64_t j = 0; j < out; ++j) {
      taps[static_cast<std::size_t>(j)] =
          taps_for(o, j, in, scales[a], roi.empty() ? 0 : roi[a],
                   roi.empty() ? 1 : roi[a + static_cast<std::size_t>(rank)]);
    }
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= shape[static_cast<std::size_t>(d)];
    for (int64_t d = axis + 1; d < rank; ++d) inner *= shape[static_cast<std::size_t>(d)];
    Shape next_shape = shape;
    next_shape[a] = out;
    // An intermediate can be larger than input and output (one axis grown before another
    // shrinks): bounded like any tensor, before allocating.
    check_fits(ctx, next_shape);
    std::vector<float> next(static_cast<std::size_t>(num_elements(next_shape)));
    for (int64_t p = 0; p < outer; ++p) {
      const float* src = current.data() + p * in * inner;
      float* dst = next.data() + p * out * inner;
      for (int64_t j = 0; j < out; ++j) {
        const Taps& t = taps[static_cast<std::size_t>(j)];
        float* row = dst + j * inner;
        if (t.extrapolate) {
          std::fill(row, row + inner, o.extrapolation);
          continue;
        }
        for (int64_t i = 0; i < inner; ++i) {
          float v = 0;
          for (int k = 0; k < t.count; ++k) v += t.weight[k] * src[t.index[k] * inner + i];
          row[i] = v;
        }
      }
    }
    current.swap(next);
    shape = next_shape;
  }
  std::memcpy(y.bytes, current.data(), current.size() * sizeof(float));
}

// The input at `i` if present and not empty, else nullptr.
const Tensor* optional_input(const KernelContext& ctx, std::size_t i) {
  return ctx.has_input(i) && ctx.input(i).size() > 0 ? &ctx.input(i) : nullptr;
}

std::vector<double> doubles(const Tensor& t) {
  std::vector<double> v(static_cast<std::size_t>(t.size()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = t.number_at(static_cast<int64_t>(i));
  return v;
}

void resize(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.type != ElemType::kFloat) ctx.fail("expects float input");
  const bool upsample = ctx.node.op_type == "Upsample";
  const bool legacy = upsample || ctx.node.opset < 11;  // X, scales; asymmetric coordinates
  Options o;
  o.mode = ctx.node.attr_string("mode", "nearest");
  if (o.mode != "nearest" && o.mode != "linear" && o.mode != "cubic")
    ctx.fail("mode '" + o.mode + "' is not supported");
  if (legacy) {
    if (o.mode == "cubic") ctx.fail("cubic needs Resize-11 or later");
    o.transform = "asymmetric";
    o.nearest = ctx.node.op_type == "Resize" ? "simple" : "floor";
  } else {
    o.transform = ctx.node.attr_string("coordinate_transformation_mode", "half_pixel");
    o.nearest = ctx.node.attr_string("nearest_mode", "round_prefer_floor");
    o.cubic_a = ctx.node.attr_float("cubic_coeff_a", -0.75f);
    o.exclude_outside = ctx.node.attr_int("exclude_outside", 0) != 0;
    o.extrapolation = ctx.node.attr_float("extrapolation_value", 0.f);
  }
  const std::vector<std::string> transforms = {"half_pixel",           "pytorch_half_pixel",
                                               "align_corners",        "asymmetric",
                                               "tf_half_pixel_for_nn", "tf_crop_and_resize"};
  if (std::find(transforms.begin(), transforms.end(), o.transform) == transforms.end()) {
    ctx.fail("coordinate_transformation_mode '" + o.transform + "' is not supported");
  }
  const std::vector<std::string> nearest_modes = {"round_prefer_floor", "round_prefer_ceil",
                                                  "floor", "ceil", "simple"};
  if (std::find(nearest_modes.begin(), nearest_modes.end(), o.nearest) == nearest_modes.end()) {
    ctx.fail("nearest_mode '" + o.nearest + "' is not supported");
  }
  const int64_t rank = x.rank();
  std::vector<double> scales, roi;
  Shape out_shape(static_cast<std::size_t>(rank));
  const Tensor* sizes = legacy ? nullptr : optional_input(ctx, 3);
  const Tensor* scale_input =
      upsample && ctx.node.opset < 9 ? nullptr : optional_input(ctx, legacy ? 1 : 2);
  if (!legacy) {
    if (const Tensor* r = optional_input(ctx, 1); r != nullptr) roi = doubles(*r);
    if (o.transform == "tf_crop_and_resize" && roi.size() != static_cast<std::size_t>(2 * rank)) {
      ctx.fail("tf_crop_and_resize needs a roi of 2 × rank values");
    }
  }
  if (sizes != nullptr) {
    const std::vector<int64_t> wanted = sizes->ints();
    if (static_cast<int64_t>(wanted.size()) != rank)
      ctx.fail("sizes needs one value per dimension");
    for (int64_t d = 0; d < rank; ++d) {
      const auto u = static_cast<std::size_t>(d);
      if (wanted[u] < 0 || wanted[u] > (int64_t{1} << 31)) ctx.fail("a size is out of range");
      out_shape[u] = wanted[u];
      scales.push_back(x.dim(d) > 0 ? static_cast<double>(wanted[u]) / static_cast<double>(x.dim(d))
                                    : 1.0);
    }
  } else {
    if (upsample && ctx.node.opset < 9) {
      const Attribute* a = ctx.node.attr("scales");
      if (a != nullptr) scales.assign(a->floats.begin(), a->floats.end());
    } else if (scale_input != nullptr) {
      scales = doubles(*scale_input);
    }
    if (static_cast<int64_t>(scales.size()) != rank)
      ctx.fail("scales needs one value per dimension");
    for (int64_t d = 0; d < rank; ++d) {
      const double s = scales[static_cast<std::size_t>(d)];
      if (!(s > 0) || s > 1e6) ctx.fail("scales must be positive");
      const double size = std::floor(static_cast<double>(x.dim(d)) * s);
      if (size > double(int64_t{1} << 31)) ctx.fail("the resized tensor is too large");
      out_shape[static_cast<std::size_t>(d)] = static_cast<int64_t>(size);
    }
  }
  check_fits(ctx, out_shape);
  Tensor& y = ctx.output(0, ElemType::kFloat, out_shape);
  if (y.size() == 0) return;
  resize_into(ctx, o, x, out_shape, scales, roi, y);
}

}  // namespace

void register_resize(OpTable& table) {
  table.add("Resize", resize, type_bit(ElemType::kFloat));
  table.add("Upsample", resize, type_bit(ElemType::kFloat));
}

}  // namespace mg::cpu
