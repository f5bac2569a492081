// Einsum. A two-operand FP32 contraction in which every letter appears once per operand
// (matrix products, batched products such as attention's "bhqd,bhkd->bhqk", outer
// products) runs as one batched GEMM: A is permuted to [batch, free, contracted], B to
// [batch, contracted, free], and the product back to the output's order. Everything else
// (one operand, diagonals, letters summed inside one operand, more operands, FP64 and
// integers) runs as a direct sum over every letter's range.
#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>

#include "plugins/cpu/kernel.h"
#include "plugins/cpu/kernels/elementwise.h"
#include "plugins/cpu/kernels/gemm.h"
#include "plugins/cpu/kernels/kernels.h"

namespace mg::cpu {
namespace {

struct Equation {
  std::vector<std::string> inputs;  // one letter per dimension ('...' expanded)
  std::string output;
  std::map<char, int64_t> sizes;
};

// Parses the equation against the inputs' shapes; "..." becomes the upper-case letters
// A, B, … (ONNX letters are lower- or upper-case; a clash is refused).
Equation parse(const KernelContext& ctx, std::string text) {
  text.erase(std::remove(text.begin(), text.end(), ' '), text.end());
  Equation e;
  const auto arrow = text.find("->");
  const std::string lhs = text.substr(0, arrow);
  std::size_t start = 0;
  while (true) {
    const auto comma = lhs.find(',', start);
    e.inputs.push_back(lhs.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (e.inputs.size() != ctx.input_count())
    ctx.fail("the equation names " + std::to_string(e.inputs.size()) + " operands");
  int ellipsis_rank = -1;
  const std::string ellipsis_letters = "ABCDEFGHIJ";
  auto expand = [&](std::string& term, int64_t rank) {
    const auto dots = term.find("...");
    if (dots == std::string::npos) return;
    const int64_t n = rank - static_cast<int64_t>(term.size() - 3);
    if (n < 0 || n > 10) ctx.fail("'...' does not fit the operand's rank");
    if (ellipsis_rank >= 0 && ellipsis_rank != n) ctx.fail("'...' covers different ranks");
    ellipsis_rank = static_cast<int>(n);
    term.replace(dots, 3, ellipsis_letters.substr(0, static_cast<std::size_t>(n)));
  };
  for (std::size_t k = 0; k < e.inputs.size(); ++k) {
    std::string& term = e.inputs[k];
    for (char c : term) {
      if (c >= 'A' && c <= 'J' && term.find("...") != std::string::npos)
        ctx.fail("letters A-J clash with '...'");
    }
    expand(term, ctx.input(k).rank());
    if (static_cast<int64_t>(term.size()) != ctx.input(k).rank())
      ctx.fail("operand " + std::to_string(k) + " has rank " + std::to_string(ctx.input(k).rank()) +
               ", the equation " + std::to_string(term.size()));
    for (std::size_t d = 0; d < term.size(); ++d) {
      const char c = term[d];
      if (!std::isalpha(static_cast<unsigned char>(c))) ctx.fail("bad letter in the equation");
      const int64_t size = ctx.input(k).dim(static_cast<int64_t>(d));
      auto [it, inserted] = e.sizes.emplace(c, size);
      if (!inserted && it->second != size) ctx.fail(std::string("letter ") + c + " has two sizes");
    }
  }
  if (arrow != std::string::npos) {
    e.output = text.substr(arrow + 2);
    if (e.output.find("...") != std::string::npos) {
      e.output.replace(
          e.output.find("..."), 3,
          ellipsis_letters.substr(0, static_cast<std::size_t>(std::max(ellipsis_rank, 0))));
    }
    for (char c : e.output) {
      if (!e.sizes.count(c)) ctx.fail(std::string("output letter ") + c + " is in no operand");
    }
  } else {
    // Implicit output: the ellipsis, then letters used once, alphabetically.
    std::map<char, int> uses;
    for (const auto& term : e.inputs) {
      for (char c : term) ++uses[c];
    }
    e.output = ellipsis_letters.substr(0, static_cast<std::size_t>(std::max(ellipsis_rank, 0)));
    for (const auto& [c, n] : uses) {
      if (n == 1 && e.output.find(c) == std::string::npos) e.output += c;
    }
  }
  return e;
}

Shape output_shape(const Equation& e) {
  Shape shape;
  for (char c : e.output) shape.push_back(e.sizes.at(c));
  return shape;
}

// out[output letters] = Σ over the other letters of Π operands.
template <typename T>
void direct(const KernelContext& ctx, const Equation& e, Tensor& out) {
  std::string letters = e.output;
  for (const auto& [c, size] : e.sizes) {
    if (letters.find(c) == std::string::npos) letters += c;
  }
  std::vector<int64_t> sizes;
  for (char c : letters) sizes.push_back(e.sizes.at(c));
  double total = 1;
  for (int64_t s : sizes) total *= static_cast<double>(s);
  if (total > 4e9) ctx.fail("the contraction is too large to run directly");
  // Per operand, the stride each letter steps it by (0 when the operand lacks it).
  std::vector<std::vector<int64_t>> strides(e.inputs.size(),
                                            std::vector<int64_t>(letters.size(), 0));
  for (std::size_t k = 0; k < e.inputs.size(); ++k) {
    const Tensor& t = ctx.input(k);
    int64_t stride = 1;
    for (int64_t d = t.rank() - 1; d >= 0; --d) {
      strides[k][letters.find(e.inputs[k][static_cast<std::size_t>(d)])] += stride;
      stride *= t.dim(d);
    }
  }
  T* po = out.data<T>();
  std::fill(po, po + out.size(), T(0));
  std::vector<int64_t> index(letters.size(), 0), offset(e.inputs.size(), 0);
  int64_t out_index = 0;
  const std::size_t out_letters = e.output.size();
  std::vector<int64_t> out_stride(letters.size(), 0);
  for (int64_t s = 1, d = static_cast<int64_t>(out_letters) - 1; d >= 0; --d) {
    out_stride[static_cast<std::size_t>(d)] = s;
    s *= sizes[static_cast<std::size_t>(d)];
  }
  if (total == 0) return;
  while (true) {
    T product = T(1);
    for (std::size_t k = 0; k < e.inputs.size(); ++k)
      product *= ctx.input(k).data<const T>()[offset[k]];
    po[out_index] += product;
    std::size_t d = letters.size();
    while (d-- > 0) {
      ++index[d];
      for (std::size_t k = 0; k < offset.size(); ++k) offset[k] += strides[k][d];
      out_index += out_stride[d];
      if (index[d] < sizes[d]) break;
      for (std::size_t k = 0; k < offset.size(); ++k) offset[k] -= strides[k][d] * sizes[d];
      out_index -= out_stride[d] * sizes[d];
      index[d] = 0;
    }
    if (d == static_cast<std::size_t>(-1)) return;
  }
}

// `src` (letters `from`) copied into the order of `to` (a permutation of `from`).
std::vector<float> permute(const float* src, const std::string& from, const std::string& to,
                           const std::map<char, int64_t>& sizes) {
  Shape shape;
  for (char c : to) shape.push_back(sizes.at(c));
  std::vector<int64_t> from_stride(from.size());
  for (int64_t s = 1, d = static_cast<int64_t>(from.size()) - 1; d >= 0; --d) {
    from_stride[static_cast<std::size_t>(d)] = s;
    s *= sizes.at(from[static_cast<std::size_t>(d)]);
  }
  std::vector<int64_t> stride;
  for (char c : to) stride.push_back(from_stride[from.find(c)]);
  std::vector<float> out(static_cast<std::size_t>(num_elements(shape)));
  if (out.empty()) return out;
  std::vector<int64_t> index(to.size(), 0);
  int64_t at = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = src[at];
    for (std::size_t d = to.size(); d-- > 0;) {
      ++index[d];
      at += stride[d];
      if (index[d] < shape[d]) break;
      at -= stride[d] * shape[d];
      index[d] = 0;
    }
  }
  return out;
}

// The GEMM path; false when the equation does not have its form.
bool as_gemm(KernelContext& ctx, const Equation& e, Tensor& out) {
  if (e.inputs.size() != 2 || ctx.input(0).type != ElemType::kFloat) return false;
  const std::string& a = e.inputs[0];
  const std::string& b = e.inputs[1];
  auto once = [](const std::string& s) {
    std::string sorted = s;
    std::sort(sorted.begin(), sorted.end());
    return std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end();
  };
  if (!once(a) || !once(b) || !once(e.output)) return false;
  std::string batch, free_a, free_b, contracted;
  for (char c : a) {
    const bool in_b = b.find(c) != std::string::npos,
               in_out = e.output.find(c) != std::string::npos;
    if (in_b && in_out)
      batch += c;
    else if (in_b)
      contracted += c;
    else if (in_out)
      free_a += c;
    else
      return false;  // summed inside A alone
  }
  for (char c : b) {
    const bool in_a = a.find(c) != std::string::npos,
               in_out = e.output.find(c) != std::string::npos;
    if (!in_a && in_out)
      free_b += c;
    else if (!in_a)
      return false;
  }
  auto size_of = [&](const std::string& letters) {
    int64_t n = 1;
    for (char c : letters) n *= e.sizes.at(c);
    return n;
  };
  const int64_t batches = size_of(batch), m = size_of(free_a), n = size_of(free_b),
                k = size_of(contracted);
  const std::vector<float> pa =
      permute(ctx.input(0).data<const float>(), a, batch + free_a + contracted, e.sizes);
  const std::vector<float> pb =
      permute(ctx.input(1).data<const float>(), b, batch + contracted + free_b, e.sizes);
  std::vector<float> product(static_cast<std::size_t>(batches * m * n));
  for (int64_t i = 0; i < batches && m * n > 0; ++i) {
    if (k == 0) continue;  // an empty contraction sums nothing: zeros
    gemm(ctx.threads, false, false, m, n, k, 1.f, pa.data() + i * m * k, k, pb.data() + i * k * n,
         n, 0.f, product.data() + i * m * n, n);
  }
  const std::vector<float> ordered =
      permute(product.data(), batch + free_a + free_b, e.output, e.sizes);
  std::memcpy(out.bytes, ordered.data(), ordered.size() * sizeof(float));
  return true;
}

void einsum(KernelContext& ctx) {
  const Equation e = parse(ctx, ctx.node.attr_string("equation", ""));
  const ElemType type = ctx.input(0).type;
  for (std::size_t k = 1; k < ctx.input_count(); ++k) {
    if (ctx.input(k).type != type) ctx.fail("operands have different element types");
  }
  Tensor& out = ctx.output(0, type, output_shape(e));
  if (as_gemm(ctx, e, out)) return;
  dispatch_numeric(ctx, type, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    direct<T>(ctx, e, out);
  });
}

}  // namespace

void register_einsum(OpTable& table) { table.add("Einsum", einsum, kNumeric); }

}  // namespace mg::cpu
