#include "gateway/evaluation/gate.h"

#include <boost/json.hpp>
#include <cstdio>
#include <stdexcept>

namespace mg::gateway {
namespace {

namespace json = boost::json;

// A threshold in [low, high]; `range` says which in words, for the refusal.
std::optional<double> number_in(const json::object& gate, const char* key, double low, double high,
                                const char* range) {
  const json::value* v = gate.if_contains(key);
  if (v == nullptr || v->is_null()) return std::nullopt;
  if (!v->is_number() || v->to_number<double>() < low || v->to_number<double>() > high) {
    throw std::invalid_argument("gate: '" + std::string(key) + "' must be " + range);
  }
  return v->to_number<double>();
}

std::optional<double> figure(const json::object& figures, const char* key) {
  const json::value* v = figures.if_contains(key);
  return v != nullptr && v->is_number() ? std::optional(v->to_number<double>()) : std::nullopt;
}

std::string fixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

}  // namespace

std::optional<Gate> gate_of(const std::string& config_json) {
  boost::system::error_code ec;
  const json::value config = json::parse(config_json, ec);
  if (ec || !config.is_object()) return std::nullopt;
  const json::value* section = config.as_object().if_contains("gate");
  if (section == nullptr || section->is_null()) return std::nullopt;
  if (!section->is_object()) throw std::invalid_argument("gate: must be a JSON object");
  const json::object& g = section->as_object();
  for (const auto& item : g) {
    const std::string_view key = item.key();
    if (key != "dataset" && key != "min_accuracy" && key != "max_accuracy_drop" &&
        key != "max_p99_ms" && key != "top_k") {
      throw std::invalid_argument("gate: unknown key '" + std::string(key) +
                                  "' (dataset, min_accuracy, max_accuracy_drop, max_p99_ms, "
                                  "top_k)");
    }
  }
  Gate gate;
  const json::value* dataset = g.if_contains("dataset");
  if (dataset == nullptr || !dataset->is_string() || dataset->as_string().empty()) {
    throw std::invalid_argument("gate: 'dataset' must name the dataset versions are evaluated on");
  }
  gate.dataset = std::string(dataset->as_string());
  gate.min_accuracy = number_in(g, "min_accuracy", 0, 1, "a fraction from 0 to 1");
  gate.max_accuracy_drop = number_in(g, "max_accuracy_drop", 0, 1, "a fraction from 0 to 1");
  gate.max_p99_ms = number_in(g, "max_p99_ms", 0, 1e9, "milliseconds, from 0");
  if (const auto k = number_in(g, "top_k", 1, 65536, "a whole number from 1 to 65536"))
    gate.top_k = static_cast<uint32_t>(*k);
  return gate;
}

json::object gate_json(const Gate& gate) {
  json::object out{{"dataset", gate.dataset}, {"top_k", gate.top_k}};
  if (gate.min_accuracy) out["min_accuracy"] = *gate.min_accuracy;
  if (gate.max_accuracy_drop) out["max_accuracy_drop"] = *gate.max_accuracy_drop;
  if (gate.max_p99_ms) out["max_p99_ms"] = *gate.max_p99_ms;
  return out;
}

std::vector<std::string> gate_failures(const Gate& gate, const json::object& figures,
                                       const json::object* baseline) {
  std::vector<std::string> failures;
  const std::optional<double> accuracy = figure(figures, "accuracy");
  if ((gate.min_accuracy || gate.max_accuracy_drop) && !accuracy) {
    failures.push_back("the dataset '" + gate.dataset +
                       "' has no labels: accuracy thresholds cannot be met");
  }
  if (gate.min_accuracy && accuracy && *accuracy < *gate.min_accuracy) {
    failures.push_back("accuracy " + fixed(*accuracy, 4) + " is below min_accuracy " +
                       fixed(*gate.min_accuracy, 4));
  }
  if (gate.max_accuracy_drop && accuracy && baseline != nullptr) {
    if (const auto before = figure(*baseline, "accuracy")) {
      const double drop = *before - *accuracy;
      if (drop > *gate.max_accuracy_drop) {
        failures.push_back("accuracy dropped by " + fixed(drop, 4) + " (from " + fixed(*before, 4) +
                           " to " + fixed(*accuracy, 4) + "), more than max_accuracy_drop " +
                           fixed(*gate.max_accuracy_drop, 4));
      }
    }
  }
  if (gate.max_p99_ms) {
    const json::value* latency = figures.if_contains("latency_ms");
    const double p99 = latency != nullptr && latency->is_object()
                           ? figure(latency->as_object(), "p99").value_or(0)
                           : 0;
    if (p99 > *gate.max_p99_ms) {
      failures.push_back("p99 latency " + fixed(p99, 2) + " ms is above max_p99_ms " +
                         fixed(*gate.max_p99_ms, 2));
    }
  }
  return failures;
}

}  // namespace mg::gateway
