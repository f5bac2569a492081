// RNN, GRU and LSTM (forward, reverse, bidirectional; sequence_lens; initial states;
// every output; the spec's activation functions; layout 0 and 1). Per direction, the
// input projection of every time step is one GEMM (X·Wᵀ for all steps at once); each step
// then adds H·Rᵀ (one GEMM over the batch) and applies the gates row by row. A batch row
// past its sequence length keeps its state and writes zeros to Y.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "plugins/cpu/kernel.h"
#include "plugins/cpu/kernels/fast_math.h"
#include "plugins/cpu/kernels/gemm.h"
#include "plugins/cpu/kernels/kernels.h"

namespace mg::cpu {
namespace {

// One of the activation functions the RNN operators name, with its parameters: a switch
// rather than a std::function, as it runs for every gate of every step (3-8 % faster on
// the zoo's LSTM and GRU at batch 8).
struct Activation {
  enum class Kind {
    kSigmoid,
    kTanh,
    kRelu,
    kSoftsign,
    kSoftplus,
    kLeakyRelu,
    kThresholdedRelu,
    kElu,
    kAffine,
    kScaledTanh,
    kHardSigmoid
  };
  Kind kind = Kind::kTanh;
  float a = 0, b = 0;

  float operator()(float v) const {
    switch (kind) {
      case Kind::kSigmoid:
        return fast_sigmoid(v);
      case Kind::kTanh:
        return fast_tanh(v);
      case Kind::kRelu:
        return v > 0.f ? v : 0.f;
      case Kind::kSoftsign:
        return v / (1.f + std::abs(v));
      case Kind::kSoftplus:
        return v > 0 ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v));
      case Kind::kLeakyRelu:
        return v >= 0.f ? v : a * v;
      case Kind::kThresholdedRelu:
        return v > a ? v : 0.f;
      case Kind::kElu:
        return v >= 0.f ? v : a * std::expm1(v);
      case Kind::kAffine:
        return a * v + b;
      case Kind::kScaledTanh:
        return a * fast_tanh(b * v);
      default:  // kHardSigmoid
        return std::max(0.f, std::min(1.f, a * v + b));
    }
  }

  // Over n values in place: the usual three as loops of their own, which vectorise; the
  // rest through the switch above.
  void apply(float* v, int64_t n) const {
    switch (kind) {
      case Kind::kSigmoid:
        sigmoid_floats(v, v, n);
        return;
      case Kind::kTanh:
        tanh_floats(v, v, n);
        return;
      case Kind::kRelu:
        for (int64_t i = 0; i < n; ++i) v[i] = v[i] > 0.f ? v[i] : 0.f;
        return;
      default:
        for (int64_t i = 0; i < n; ++i) v[i] = (*this)(v[i]);
    }
  }
};

// The activation named `name`, taking the next alpha/beta from the node's lists when it
// has parameters.
Activation activation(const KernelContext& ctx, const std::string& name,
                      const std::vector<float>& alphas, std::size_t& next_alpha,
                      const std::vector<float>& betas, std::size_t& next_beta) {
  auto alpha = [&](float fallback) {
    return next_alpha < alphas.size() ? alphas[next_alpha++] : fallback;
  };
  auto beta = [&](float fallback) {
    return next_beta < betas.size() ? betas[next_beta++] : fallback;
  };
  using Kind = Activation::Kind;
  if (name == "Sigmoid") return {Kind::kSigmoid};
  if (name == "Tanh") return {Kind::kTanh};
  if (name == "Relu") return {Kind::kRelu};
  if (name == "Softsign") return {Kind::kSoftsign};
  if (name == "Softplus") return {Kind::kSoftplus};
  if (name == "LeakyRelu") return {Kind::kLeakyRelu, alpha(0.01f)};
  if (name == "ThresholdedRelu") return {Kind::kThresholdedRelu, alpha(1.f)};
  if (name == "Elu") return {Kind::kElu, alpha(1.f)};
  if (name == "Affine") {
    const float a = alpha(1.f);
    return {Kind::kAffine, a, beta(0.f)};
  }
  if (name == "ScaledTanh") {
    const float a = alpha(1.f);
    return {Kind::kScaledTanh, a, beta(1.f)};
  }
  if (name == "HardSigmoid") {
    const float a = alpha(0.2f);
    return {Kind::kHardSigmoid, a, beta(0.5f)};
  }
  ctx.fail("activation '" + name + "' is not supported");
}

enum class Cell { kRnn, kGru, kLstm };

struct Spec {
  Cell cell;
  int gates;                          // 1, 3, 4
  std::vector<std::string> defaults;  // one direction's activations
};

Spec spec_of(Cell cell) {
  switch (cell) {
    case Cell::kRnn:
      return {cell, 1, {"Tanh"}};
    case Cell::kGru:
      return {cell, 3, {"Sigmoid", "Tanh"}};
    default:
      return {cell, 4, {"Sigmoid", "Tanh", "Tanh"}};
  }
}

template <Cell kCell>
void recurrent(KernelContext& ctx) {
  const Spec spec = spec_of(kCell);
  const Tensor& x_in = ctx.input(0);
  const Tensor& w = ctx.input(1);
  const Tensor& r = ctx.input(2);
  if (x_in.type != ElemType::kFloat || x_in.rank() != 3 || w.rank() != 3 || r.rank() != 3) {
    ctx.fail("expects float X, W and R of rank 3");
  }
  const bool batch_first = ctx.node.attr_int("layout", 0) == 1;
  const std::string direction = ctx.node.attr_string("direction", "forward");
  const int64_t dirs = direction == "bidirectional" ? 2 : 1;
  if (direction != "forward" && direction != "reverse" && direction != "bidirectional") {
    ctx.fail("direction '" + direction + "' is not supported");
  }
  const int64_t seq = x_in.dim(batch_first ? 1 : 0), batch = x_in.dim(batch_first ? 0 : 1);
  const int64_t input = x_in.dim(2);
  const int64_t hidden = r.dim(2);
  const int64_t g = spec.gates, gh = g * hidden;
  if (ctx.node.attr_int("hidden_size", hidden) != hidden || w.shape != Shape{dirs, gh, input} ||
      r.shape != Shape{dirs, gh, hidden}) {
    ctx.fail("W must be " + shape_text({dirs, gh, input}) + " and R " +
             shape_text({dirs, gh, hidden}));
  }
  const float* bias = nullptr;
  if (ctx.has_input(3)) {
    if (ctx.input(3).shape != Shape{dirs, 2 * gh})
      ctx.fail("B must be " + shape_text({dirs, 2 * gh}));
    bias = ctx.input(3).data<const float>();
  }
  std::vector<int64_t> lengths(static_cast<std::size_t>(batch), seq);
  if (ctx.has_input(4)) {
    const Tensor& lens = ctx.input(4);
    if (lens.size() != batch) ctx.fail("sequence_lens must have one value per batch row");
    for (int64_t b = 0; b < batch; ++b) {
      lengths[static_cast<std::size_t>(b)] = lens.int_at(b);
      if (lengths[static_cast<std::size_t>(b)] < 0 || lengths[static_cast<std::size_t>(b)] > seq) {
        ctx.fail("a sequence length is outside 0.." + std::to_string(seq));
      }
    }
  }
  const Shape state_shape = batch_first ? Shape{batch, dirs, hidden} : Shape{dirs, batch, hidden};
  const Tensor* initial_h = ctx.has_input(5) ? &ctx.input(5) : nullptr;
  const Tensor* initial_c = kCell == Cell::kLstm && ctx.has_input(6) ? &ctx.input(6) : nullptr;
  const Tensor* peepholes = kCell == Cell::kLstm && ctx.has_input(7) ? &ctx.input(7) : nullptr;
  if ((initial_h && initial_h->shape != state_shape) ||
      (initial_c && initial_c->shape != state_shape)) {
    ctx.fail("initial states must be " + shape_text(state_shape));
  }
  if (peepholes && peepholes->shape != Shape{dirs, 3 * hidden})
    ctx.fail("P must be " + shape_text({dirs, 3 * hidden}));
  const float clip = ctx.node.attr_float("clip", 0.f);
  const bool couple = kCell == Cell::kLstm && ctx.node.attr_int("input_forget", 0) != 0;
  const bool linear_before_reset =
      kCell == Cell::kGru && ctx.node.attr_int("linear_before_reset", 0) != 0;

  // Activations: one set per direction, given or the defaults.
  std::vector<std::string> names;
  if (const Attribute* a = ctx.node.attr("activations")) names = a->strings;
  const std::size_t per_dir = spec.defaults.size();
  if (names.empty()) {
    for (int64_t d = 0; d < dirs; ++d)
      names.insert(names.end(), spec.defaults.begin(), spec.defaults.end());
  }
  if (names.size() != per_dir * static_cast<std::size_t>(dirs))
    ctx.fail("activations needs " + std::to_string(per_dir * dirs) + " names");
  const Attribute* alpha_attr = ctx.node.attr("activation_alpha");
  const Attribute* beta_attr = ctx.node.attr("activation_beta");
  const std::vector<float> alphas = alpha_attr ? alpha_attr->floats : std::vector<float>{};
  const std::vector<float> betas = beta_attr ? beta_attr->floats : std::vector<float>{};
  std::size_t next_alpha = 0, next_beta = 0;
  std::vector<Activation> fns;
  for (const auto& name : names)
    fns.push_back(activation(ctx, name, alphas, next_alpha, betas, next_beta));

  // X as [seq, batch, input].
  std::vector<float> x_time;
  const float* x = x_in.data<const float>();
  if (batch_first) {
    x_time.resize(static_cast<std::size_t>(seq * batch * input));
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t t = 0; t < seq; ++t) {
        std::memcpy(&x_time[static_cast<std::size_t>((t * batch + b) * input)],
                    x + (b * seq + t) * input, static_cast<std::size_t>(input) * sizeof(float));
      }
    }
    x = x_time.data();
  }
  const Shape y_shape =
      batch_first ? Shape{batch, seq, dirs, hidden} : Shape{seq, dirs, batch, hidden};
  float* y = ctx.wants_output(0) ? ctx.output(0, ElemType::kFloat, y_shape).data<float>() : nullptr;
  float* y_h =
      ctx.wants_output(1) ? ctx.output(1, ElemType::kFloat, state_shape).data<float>() : nullptr;
  float* y_c = kCell == Cell::kLstm && ctx.wants_output(2)
                   ? ctx.output(2, ElemType::kFloat, state_shape).data<float>()
                   : nullptr;
  if (y != nullptr)
    std::memset(y, 0, static_cast<std::size_t>(num_elements(y_shape)) * sizeof(float));
  auto y_at = [&](int64_t t, int64_t d, int64_t b) {
    return batch_first ? ((b * seq + t) * dirs + d) * hidden
                       : ((t * dirs + d) * batch + b) * hidden;
  };
  auto state_at = [&](int64_t d, int64_t b) {
    return batch_first ? (b * dirs + d) * hidden : (d * batch + b) * hidden;
  };

  // One direction's whole pass, with its own scratch, on `pool`: the two directions of a
  // bidirectional layer are independent, so on two or more threads they run side by side
  // (each step's GEMM is far too small to split: 8 rows of a 48-wide LSTM are 74k MACs).
  auto run_direction = [&](int64_t d, ThreadPool& pool) {
    std::vector<float> xw(static_cast<std::size_t>(seq * batch * gh));
    std::vector<float> gates(static_cast<std::size_t>(batch * gh));
    std::vector<float> h(static_cast<std::size_t>(batch * hidden)), c(h.size()), rh(h.size());
    std::vector<float> hr(static_cast<std::size_t>(batch * hidden));  // GRU: H·Rhᵀ (+ Rbh)
    std::vector<float> masked(static_cast<std::size_t>(hidden));      // GRU: r ⊙ H, one row
    const bool reverse = direction == "reverse" || d == 1;
    const float* wd = w.data<const float>() + d * gh * input;
    const float* rd = r.data<const float>() + d * gh * hidden;
    const float* wb = bias ? bias + d * 2 * gh : nullptr;
    const float* rb = bias ? bias + d * 2 * gh + gh : nullptr;
    const float* p = peepholes ? peepholes->data<const float>() + d * 3 * hidden : nullptr;
    const Activation& f = fns[static_cast<std::size_t>(d) * per_dir];
    const Activation& gf = fns[static_cast<std::size_t>(d) * per_dir + (per_dir > 1 ? 1 : 0)];
    const Activation& hf = fns[static_cast<std::size_t>(d) * per_dir + (per_dir > 2 ? 2 : 0)];
    // Every step's input projection at once, with W's bias (and for all but GRU's
    // candidate gate, R's bias too: it is added at every step anyway).
    if (seq * batch > 0)
      gemm(pool, false, true, seq * batch, gh, input, 1.f, x, input, wd, input, 0.f, xw.data(), gh);
    if (bias) {
      for (int64_t row = 0; row < seq * batch; ++row) {
        float* out = &xw[static_cast<std::size_t>(row * gh)];
        for (int64_t j = 0; j < gh; ++j) {
          const bool gru_candidate = kCell == Cell::kGru && j >= 2 * hidden;
          out[j] += wb[j] + (gru_candidate ? 0.f : rb[j]);
        }
      }
    }
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t k = 0; k < hidden; ++k) {
        h[static_cast<std::size_t>(b * hidden + k)] =
            initial_h ? initial_h->data<const float>()[state_at(d, b) + k] : 0.f;
        c[static_cast<std::size_t>(b * hidden + k)] =
            initial_c ? initial_c->data<const float>()[state_at(d, b) + k] : 0.f;
      }
    }
    for (int64_t s = 0; s < seq; ++s) {
      // gates = H·Rᵀ over the batch (GRU: the update and reset gates only, here).
      const int64_t recurrent_cols = kCell == Cell::kGru ? 2 * hidden : gh;
      gemm(pool, false, true, batch, recurrent_cols, hidden, 1.f, h.data(), hidden, rd, hidden, 0.f,
           gates.data(), gh);
      if (kCell == Cell::kGru && linear_before_reset) {
        gemm(pool, false, true, batch, hidden, hidden, 1.f, h.data(), hidden,
             rd + 2 * hidden * hidden, hidden, 0.f, hr.data(), hidden);
      }
      for (int64_t b = 0; b < batch; ++b) {
        const int64_t len = lengths[static_cast<std::size_t>(b)];
        if (s >= len) continue;  // past this row's sequence: state kept, Y stays 0
        const int64_t t = reverse ? len - 1 - s : s;
        const float* in = &xw[static_cast<std::size_t>((t * batch + b) * gh)];
        float* gr = &gates[static_cast<std::size_t>(b * gh)];
        float* hb = &h[static_cast<std::size_t>(b * hidden)];
        float* cb = &c[static_cast<std::size_t>(b * hidden)];
        // Each gate as a pass over the row: pre-activations, then the activation over
        // them (Activation::apply), so the loops vectorise.
        auto clip_all = [clip](float* v, int64_t n) {
          if (clip <= 0.f) return;
          for (int64_t k = 0; k < n; ++k) v[k] = std::max(-clip, std::min(clip, v[k]));
        };
        if (kCell == Cell::kRnn) {
          for (int64_t k = 0; k < hidden; ++k) hb[k] = in[k] + gr[k];
          clip_all(hb, hidden);
          f.apply(hb, hidden);
        } else if (kCell == Cell::kGru) {  // gates z, r, h
          float* rhb = &rh[static_cast<std::size_t>(b * hidden)];
          for (int64_t k = 0; k < 2 * hidden; ++k) gr[k] += in[k];
          clip_all(gr, 2 * hidden);
          f.apply(gr, 2 * hidden);
          std::memcpy(rhb, gr + hidden, static_cast<std::size_t>(hidden) * sizeof(float));
          if (!linear_before_reset) {
            // (r ⊙ H)·Rhᵀ for this row.
            for (int64_t k = 0; k < hidden; ++k)
              masked[static_cast<std::size_t>(k)] = rhb[k] * hb[k];
            gemm(pool, false, true, 1, hidden, hidden, 1.f, masked.data(), hidden,
                 rd + 2 * hidden * hidden, hidden, 0.f, &hr[static_cast<std::size_t>(b * hidden)],
                 hidden);
          }
          const float* hrb = &hr[static_cast<std::size_t>(b * hidden)];
          float* candidate = gr + 2 * hidden;
          for (int64_t k = 0; k < hidden; ++k) {
            const float rbh = rb ? rb[2 * hidden + k] : 0.f;
            candidate[k] = linear_before_reset ? in[2 * hidden + k] + rhb[k] * (hrb[k] + rbh)
                                               : in[2 * hidden + k] + hrb[k] + rbh;
          }
          clip_all(candidate, hidden);
          gf.apply(candidate, hidden);
          for (int64_t k = 0; k < hidden; ++k) hb[k] = (1.f - gr[k]) * candidate[k] + gr[k] * hb[k];
        } else {  // LSTM, gates i, o, f, c
          float* ig = gr;
          float* og = gr + hidden;
          float* fg = gr + 2 * hidden;
          float* cg = gr + 3 * hidden;
          for (int64_t k = 0; k < gh; ++k) gr[k] += in[k];
          if (p) {
            for (int64_t k = 0; k < hidden; ++k) {
              ig[k] += p[k] * cb[k];
              fg[k] += p[2 * hidden + k] * cb[k];
            }
          }
          clip_all(ig, hidden);
          clip_all(fg, 2 * hidden);  // f and c
          f.apply(ig, hidden);
          if (couple) {
            for (int64_t k = 0; k < hidden; ++k) fg[k] = 1.f - ig[k];
          } else {
            f.apply(fg, hidden);
          }
          gf.apply(cg, hidden);
          for (int64_t k = 0; k < hidden; ++k) cb[k] = fg[k] * cb[k] + ig[k] * cg[k];
          if (p) {
            for (int64_t k = 0; k < hidden; ++k) og[k] += p[hidden + k] * cb[k];
          }
          clip_all(og, hidden);
          f.apply(og, hidden);
          std::memcpy(cg, cb, static_cast<std::size_t>(hidden) * sizeof(float));
          hf.apply(cg, hidden);
          for (int64_t k = 0; k < hidden; ++k) hb[k] = og[k] * cg[k];
        }
        if (y != nullptr)
          std::memcpy(y + y_at(t, d, b), hb, static_cast<std::size_t>(hidden) * sizeof(float));
      }
    }
    for (int64_t b = 0; b < batch; ++b) {
      if (y_h)
        std::memcpy(y_h + state_at(d, b), &h[static_cast<std::size_t>(b * hidden)],
                    static_cast<std::size_t>(hidden) * sizeof(float));
      if (y_c)
        std::memcpy(y_c + state_at(d, b), &c[static_cast<std::size_t>(b * hidden)],
                    static_cast<std::size_t>(hidden) * sizeof(float));
    }
  };
  // Below about half a million multiply-adds per direction (a 48-wide RNN at batch 8, an
  // LSTM at batch 1) handing a direction to the other thread costs more than it saves.
  constexpr int64_t kMinMacsPerDirection = int64_t{1} << 19;
  if (dirs == 2 && ctx.threads.size() > 1 &&
      seq * batch * gh * (input + hidden) >= kMinMacsPerDirection) {
    ctx.threads.parallel_for(2, 1, [&](int64_t d0, int64_t d1) {
      ThreadPool serial(1);
      for (int64_t d = d0; d < d1; ++d) run_direction(d, serial);
    });
  } else {
    for (int64_t d = 0; d < dirs; ++d) run_direction(d, ctx.threads);
  }
}

}  // namespace

void register_recurrent(OpTable& table) {
  const uint32_t floats = type_bit(ElemType::kFloat);
  table.add("RNN", recurrent<Cell::kRnn>, floats);
  table.add("GRU", recurrent<Cell::kGru>, floats);
  table.add("LSTM", recurrent<Cell::kLstm>, floats);
}

}  // namespace mg::cpu
