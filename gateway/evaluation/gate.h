#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mg::gateway {

// A model's promotion gate: the model config's "gate" object (docs/evaluation.md "The
// gate"), thresholds in the style of TFX's value and change thresholds. A version moves
// to the default alias only with a report on `dataset` whose figures meet every threshold
// set here.
struct Gate {
  std::string dataset;
  std::optional<double> min_accuracy;       // top-1, 0..1
  std::optional<double> max_accuracy_drop;  // against the default version, same dataset
  std::optional<double> max_p99_ms;         // per record through the serving path
  uint32_t top_k = 5;                       // the report's top-k accuracy
};

// The gate a model config declares, or nullopt. Throws std::invalid_argument naming the
// key for a malformed one (an unknown key, a threshold out of range, no dataset).
std::optional<Gate> gate_of(const std::string& config_json);
boost::json::object gate_json(const Gate& gate);

// The thresholds a report's figures miss, one sentence each naming the figure and its
// limit; empty when the version passes. `baseline`: the default version's figures on the
// same dataset (nullptr when there is none, or it is the version itself).
std::vector<std::string> gate_failures(const Gate& gate, const boost::json::object& figures,
                                       const boost::json::object* baseline);

}  // namespace mg::gateway
