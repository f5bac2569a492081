// Graphs built value by value in memory, for kernel and layout tests that need what an
// ONNX file cannot say directly (a chosen layout, a prepared state).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "plugins/cpu/executor.h"
#include "plugins/cpu/graph.h"
#include "plugins/cpu/kernels/kernels.h"

namespace mg::cpu::testing {

// FP32 values (constants random in [-1, 1], from a fixed seed) and nodes of the default
// domain at opset 17.
struct GraphBuilder {
  Graph graph;
  std::mt19937 rng{5};

  int value(const std::string& name, Shape shape, bool constant = false) {
    Value v{name};
    v.type = ElemType::kFloat;
    v.shape = shape;
    v.shape_known = true;
    if (constant) {
      Tensor t = Tensor::owned(ElemType::kFloat, shape);
      std::uniform_real_distribution<float> uniform(-1.f, 1.f);
      for (int64_t i = 0; i < t.size(); ++i) t.data<float>()[i] = uniform(rng);
      v.constant = std::move(t);
    }
    graph.values.push_back(std::move(v));
    return static_cast<int>(graph.values.size() - 1);
  }

  void node(const std::string& op, std::vector<int> in, int out,
            std::vector<Attribute> attributes = {}) {
    Node n;
    n.name = op + std::to_string(graph.nodes.size());
    n.op_type = op;
    n.opset = 17;
    n.kernel = OpTable::instance().find(op)->kernel;
    n.inputs = std::move(in);
    n.outputs = {out};
    n.attributes = std::move(attributes);
    graph.nodes.push_back(std::move(n));
  }
};

inline Attribute int_attribute(const std::string& name, int64_t value) {
  Attribute a;
  a.name = name;
  a.i = value;
  return a;
}

inline Attribute ints_attribute(const std::string& name, std::vector<int64_t> values) {
  Attribute a;
  a.name = name;
  a.kind = Attribute::Kind::kInts;
  a.ints = std::move(values);
  return a;
}

// Sums of up to a few hundred products of values in [-1, 1]: float rounding stays far
// below this.
inline void expect_close(const std::vector<float>& got, const std::vector<float>& want,
                         const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < want.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], 1e-4f * (1.f + std::fabs(want[i]))) << what << ", element " << i;
  }
}

// Runs both graphs on the same X of each shape, on 1 and 2 threads, and expects the same
// outputs within float rounding, none of them channel-last.
inline void expect_same_results(const std::shared_ptr<const Graph>& a,
                                const std::shared_ptr<const Graph>& b,
                                const std::vector<Shape>& x_shapes) {
  for (int threads : {1, 2}) {
    Executor run_a(a, threads), run_b(b, threads);
    for (const Shape& shape : x_shapes) {
      Tensor x = Tensor::owned(ElemType::kFloat, shape);
      for (int64_t i = 0; i < x.size(); ++i)
        x.data<float>()[i] = static_cast<float>((i * 37) % 23) / 11 - 1;
      const std::vector<Tensor> got = run_a.run({x}), want = run_b.run({x});
      ASSERT_EQ(got.size(), want.size());
      for (std::size_t o = 0; o < want.size(); ++o) {
        SCOPED_TRACE("output " + std::to_string(o) + ", X " + shape_text(shape) + ", " +
                     std::to_string(threads) + " threads");
        EXPECT_FALSE(got[o].channels_last);
        ASSERT_EQ(got[o].shape, want[o].shape);
        for (int64_t i = 0; i < want[o].size(); ++i) {
          const float w = want[o].data<const float>()[i];
          ASSERT_NEAR(got[o].data<const float>()[i], w, 1e-4f * (1.f + std::abs(w)))
              << "element " << i;
        }
      }
    }
  }
}

}  // namespace mg::cpu::testing
