// mgctl's evaluation and rollout verbs (docs/evaluation.md): datasets, evaluate, reports,
// gate; weighted aliases (a canary) and their rollback; the shadow.
#include <cstdio>
#include <iostream>

#include "admin/commands.h"

namespace mg::admin {
namespace {

namespace json = boost::json;

double number(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_number() ? v->to_number<double>() : 0.0;
}

std::string fixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

// One line of figures: accuracy, top-k, log-loss (or the errors), latency, speed.
std::string figures_line(const json::object& f) {
  std::string line;
  if (f.contains("accuracy")) {
    const auto& top = f.at("top_k").as_object();
    line = "accuracy " + fixed(number(f, "accuracy"), 4) + "  top-" + cell(top.at("k")) + " " +
           fixed(number(top, "accuracy"), 4) + "  log-loss " + fixed(number(f, "log_loss"), 4);
  } else {
    line = "mse " + fixed(number(f, "mse"), 6) + "  mae " + fixed(number(f, "mae"), 6) +
           "  max abs error " + fixed(number(f, "max_abs_error"), 6);
  }
  const auto& latency = f.at("latency_ms").as_object();
  return line + "  p50 " + fixed(number(latency, "p50"), 2) + " ms  p99 " +
         fixed(number(latency, "p99"), 2) + " ms  (" + cell(f.at("rows")) + " rows, " +
         fixed(number(f, "seconds"), 2) + " s)";
}

// "on text-heldout: min_accuracy 0.9, max_accuracy_drop 0.01, top_k 5"
std::string gate_text(const json::object& gate) {
  std::string text = "on " + cell(gate.at("dataset"));
  const char* separator = ": ";
  for (const char* key : {"min_accuracy", "max_accuracy_drop", "max_p99_ms", "top_k"}) {
    const json::value* v = gate.if_contains(key);
    if (v == nullptr || !v->is_number()) continue;
    char value[32];
    std::snprintf(value, sizeof value, "%g", v->to_number<double>());
    text += separator + std::string(key) + " " + value;
    separator = ", ";
  }
  return text;
}

void print_report(const json::object& r) {
  std::cout << cell(r.at("model")) << " version " << cell(r.at("version")) << " on dataset "
            << cell(r.at("dataset").as_object().at("name")) << " (report " << cell(r.at("id"))
            << "): " << cell(r.at("verdict")) << "\n";
  const auto& figures = r.at("figures").as_object();
  std::cout << "  version " << cell(r.at("version")) << ":  " << figures_line(figures) << "\n";
  if (r.at("baseline").is_object()) {
    const auto& baseline = r.at("baseline").as_object();
    std::cout << "  default " << cell(baseline.at("version")) << ":  "
              << figures_line(baseline.at("figures").as_object()) << "\n";
  }
  if (r.at("gate").is_object())
    std::cout << "  gate " << gate_text(r.at("gate").as_object()) << "\n";
  for (const auto& failure : r.at("failures").as_array()) {
    std::cout << "  failed: " << cell(failure) << "\n";
  }
  if (const json::value* classes = figures.if_contains("classes")) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& c : classes->as_array()) {
      const auto& o = c.as_object();
      rows.push_back({cell(o.at("class")), cell(o.at("support")), fixed(number(o, "precision"), 4),
                      fixed(number(o, "recall"), 4)});
    }
    print_table({"CLASS", "SUPPORT", "PRECISION", "RECALL"}, rows);
  }
}

void print_dataset(const json::object& d) {
  print_table({"NAME", "RECORDS", "ARTIFACT", "DESCRIPTION"},
              {{cell(d.at("name")), cell(d.at("records")), cell(d.at("artifact")).substr(0, 12),
                cell(d.at("description"))}});
}

// "3" or "3:90" → (3, 90); a bare version weighs 1.
std::pair<int64_t, uint32_t> weighted_version(const std::string& text) {
  const std::size_t colon = text.find(':');
  try {
    std::size_t used = 0;
    const int64_t version = std::stoll(text.substr(0, colon), &used);
    if (used != std::min(colon, text.size()) || version < 1) throw std::invalid_argument(text);
    int64_t weight = 1;
    if (colon != std::string::npos) {
      weight = std::stoll(text.substr(colon + 1), &used);
      if (used != text.size() - colon - 1 || weight < 1 || weight > 1'000'000) {
        throw std::invalid_argument(text);
      }
    }
    return {version, static_cast<uint32_t>(weight)};
  } catch (const std::exception&) {
    throw std::invalid_argument("'" + text +
                                "' is not VERSION or VERSION:WEIGHT (weight 1..1000000)");
  }
}

void print_alias(const json::value& body, const std::string& name) {
  const auto& o = body.as_object();
  std::cout << name << ": " << cell(o.at("alias")) << " -> ";
  if (const json::value* split = o.if_contains("split")) {
    std::string text;
    for (const auto& v : split->as_object().at("versions").as_array()) {
      text += (text.empty() ? "" : " ") + std::string("version ") +
              cell(v.as_object().at("version")) + ":" + cell(v.as_object().at("weight"));
    }
    std::cout << text << (split->as_object().at("sticky").as_bool() ? " (sticky by key)" : "")
              << "\n";
  } else {
    std::cout << "version " << cell(o.at("version")) << "\n";
  }
}

}  // namespace

void model_alias_split(modelgate::Client& client, const Output& out, const std::string& name,
                       const std::string& alias, const std::vector<std::string>& versions,
                       bool sticky, bool force) {
  std::vector<std::pair<int64_t, uint32_t>> split;
  for (const auto& v : versions) split.push_back(weighted_version(v));
  json::value body =
      expect_ok(split.size() == 1 && versions[0].find(':') == std::string::npos && !sticky
                    ? client.set_alias(name, alias, split[0].first, force)
                    : client.set_alias_split(name, alias, split, sticky, force));
  if (out.json) return print_json(body);
  print_alias(body, name);
}

void model_rollback(modelgate::Client& client, const Output& out, const std::string& name,
                    const std::string& alias) {
  json::value body = expect_ok(client.rollback_alias(name, alias));
  if (out.json) return print_json(body);
  print_alias(body, name);
}

void dataset_upload(modelgate::Client& client, const Output& out, const std::string& name,
                    const std::string& file, const std::string& description,
                    const std::string& signature) {
  std::string signature_text;
  if (!signature.empty()) {
    std::FILE* f = std::fopen(signature.c_str(), "rb");
    if (f == nullptr) throw std::runtime_error("cannot read '" + signature + "'");
    char buffer[4096];
    for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, f)) > 0;) {
      signature_text.append(buffer, n);
    }
    std::fclose(f);
  }
  json::value body = expect_ok(client.upload_dataset(name, file, description, {}, signature_text));
  if (out.json) return print_json(body);
  const auto& o = body.as_object();
  std::cout << "dataset " << name << ": " << cell(o.at("records")) << " records ("
            << cell(o.at("labelled_rows")) << " labelled rows, " << cell(o.at("target_values"))
            << " target values), artifact " << cell(o.at("artifact")) << "\n";
}

void dataset_list(modelgate::Client& client, const Output& out) {
  json::value body = expect_ok(client.list_datasets());
  if (out.json) return print_json(body);
  std::vector<std::vector<std::string>> rows;
  for (const auto& d : body.as_object().at("datasets").as_array()) {
    const auto& o = d.as_object();
    rows.push_back({cell(o.at("name")), cell(o.at("records")), cell(o.at("artifact")).substr(0, 12),
                    cell(o.at("description"))});
  }
  print_table({"NAME", "RECORDS", "ARTIFACT", "DESCRIPTION"}, rows);
}

void dataset_show(modelgate::Client& client, const Output& out, const std::string& name) {
  json::value body = expect_ok(client.show_dataset(name));
  if (out.json) return print_json(body);
  print_dataset(body.as_object());
}

void dataset_remove(modelgate::Client& client, const Output& out, const std::string& name) {
  json::value body = expect_ok(client.remove_dataset(name));
  if (out.json) return print_json(body);
  std::cout << "dataset " << name << " removed\n";
}

void model_evaluate(modelgate::Client& client, const Output& out, const std::string& name,
                    int64_t version, const std::string& dataset, uint32_t top_k) {
  json::value body = expect_ok(client.evaluate(name, version, dataset, top_k));
  if (out.json) return print_json(body);
  print_report(body.as_object());
}

void model_reports(modelgate::Client& client, const Output& out, const std::string& name,
                   int64_t version) {
  json::value body = expect_ok(client.list_reports(name, version));
  if (out.json) return print_json(body);
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : body.as_object().at("reports").as_array()) {
    const auto& o = r.as_object();
    const auto& f = o.at("figures").as_object();
    const std::string baseline = o.at("baseline").is_object()
                                     ? cell(o.at("baseline").as_object().at("version"))
                                     : std::string("-");
    // A shadow's report: its agreement with the served version where accuracy would be.
    const bool shadow = o.contains("kind") && o.at("kind") == "shadow";
    const std::string score = f.contains("accuracy") ? fixed(number(f, "accuracy"), 4)
                              : shadow && f.at("agreement").is_number()
                                  ? "agree " + fixed(number(f, "agreement"), 4)
                                  : "-";
    rows.push_back({cell(o.at("id")), cell(o.at("version")),
                    shadow ? "(shadow)" : cell(o.at("dataset").as_object().at("name")),
                    cell(o.at("verdict")), score,
                    fixed(number(f.at("latency_ms").as_object(), "p99"), 2), baseline,
                    cell(o.at("actor"))});
  }
  print_table({"REPORT", "VERSION", "DATASET", "VERDICT", "ACCURACY", "P99_MS", "AGAINST", "BY"},
              rows);
}

void model_gate(modelgate::Client& client, const Output& out, const std::string& name,
                const GateArgs& args) {
  json::value body;
  if (args.remove) {
    body = expect_ok(client.remove_gate(name));
  } else {
    if (args.dataset.empty()) throw std::invalid_argument("--dataset names the gate's dataset");
    json::object gate{{"dataset", args.dataset}};
    if (args.min_accuracy) gate["min_accuracy"] = *args.min_accuracy;
    if (args.max_accuracy_drop) gate["max_accuracy_drop"] = *args.max_accuracy_drop;
    if (args.max_p99_ms) gate["max_p99_ms"] = *args.max_p99_ms;
    if (args.top_k) gate["top_k"] = *args.top_k;
    body = expect_ok(client.set_gate(name, json::serialize(gate)));
  }
  if (out.json) return print_json(body);
  const json::value& gate = body.as_object().at("gate");
  std::cout << name << ": "
            << (gate.is_object() ? "gate " + gate_text(gate.as_object()) : "no gate") << "\n";
}

void model_shadow(modelgate::Client& client, const Output& out, const std::string& name,
                  const ShadowArgs& args) {
  if (args.report) {
    json::value stored = expect_ok(client.report_shadow(name));
    if (out.json) return print_json(stored);
    std::cout << name << ": shadow comparison kept as report #" << cell(stored.at("id")) << "\n";
    return;
  }
  if (args.remove) {
    expect_ok(client.remove_shadow(name));
  } else if (args.version > 0) {
    expect_ok(client.set_shadow(name, args.version, args.share, args.alias));
  }
  json::value body = expect_ok(client.show_shadow(name));
  if (out.json) return print_json(body);
  const auto& o = body.as_object();
  if (!o.at("shadow").is_object()) {
    std::cout << name << ": no shadow\n";
    return;
  }
  const auto& shadow = o.at("shadow").as_object();
  std::cout << name << ": version " << cell(shadow.at("version")) << " shadows "
            << fixed(100 * number(shadow, "share"), 1) << " % of '" << cell(shadow.at("alias"))
            << "'\n";
  if (!o.at("comparison").is_object()) return;
  const auto& c = o.at("comparison").as_object();
  const auto& latency = c.at("latency_ms").as_object();
  std::cout << "  copies " << cell(c.at("requests")) << "  dropped " << cell(c.at("dropped"))
            << "  errors " << cell(c.at("errors")) << "  rows " << cell(c.at("rows"))
            << "  agreement "
            << (c.at("agreement").is_null() ? std::string("-") : fixed(number(c, "agreement"), 4))
            << "  max abs diff " << fixed(number(c, "max_abs_diff"), 6) << "  p50 "
            << fixed(number(latency, "p50"), 2) << " ms  p99 " << fixed(number(latency, "p99"), 2)
            << " ms\n";
}

void model_canary(modelgate::Client& client, const Output& out, const std::string& name,
                  const CanaryArgs& args) {
  json::value body;
  if (args.remove) {
    body = expect_ok(client.remove_canary(name));
  } else {
    json::object canary;
    if (args.max_error_rate) canary["max_error_rate"] = *args.max_error_rate;
    if (args.max_p99_ms) canary["max_p99_ms"] = *args.max_p99_ms;
    if (args.min_requests) canary["min_requests"] = *args.min_requests;
    body = expect_ok(client.set_canary(name, json::serialize(canary)));
  }
  if (out.json) return print_json(body);
  const json::value& canary = body.as_object().at("canary");
  if (!canary.is_object()) {
    std::cout << name << ": no automatic rollback\n";
    return;
  }
  const auto& c = canary.as_object();
  std::cout << name << ": a canary is rolled back after " << cell(c.at("min_requests"))
            << " requests when";
  if (c.contains("max_error_rate")) {
    std::cout << " its error rate passes " << fixed(100 * number(c, "max_error_rate"), 1) << " %";
  }
  if (c.contains("max_error_rate") && c.contains("max_p99_ms")) std::cout << " or";
  if (c.contains("max_p99_ms")) {
    std::cout << " its p99 passes " << fixed(number(c, "max_p99_ms"), 2) << " ms";
  }
  std::cout << "\n";
}

}  // namespace mg::admin
