#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "admin/output.h"
#include "modelgate/client.h"
#include "modelgate/grpc_client.h"

// One function per mgctl verb (docs/contracts.md "Admin CLI"). Each prints its result (one JSON
// document with --json) and throws ServerError / TransportError / std::runtime_error.
namespace mg::admin {

struct ModelCreateArgs {
  std::string name, backend = "cpu", description;
  std::optional<int64_t> max_batch, max_delay_us, instances;
  bool require_signature = false;
  // More model config for the backend, "KEY=VALUE" each (e.g. threads=2,
  // conv_winograd=true): VALUE as JSON if it parses, else as a string.
  std::vector<std::string> config;
};
void model_create(modelgate::Client& client, const Output& out, const ModelCreateArgs& args);

struct UploadArgs {
  std::string name, file, notes, signature;  // signature: a FILE.sig path or ""
  // The version's other files, "NAME=PATH" (--vocab is vocabulary=PATH, --labels
  // labels=PATH), and their signature files, "NAME=FILE.sig".
  std::vector<std::string> files, file_signatures;
  // The version's own "preprocess" / "postprocess" (JSON objects), stored as its files.
  std::map<std::string, std::string> sections;
  bool promote = false;
  bool force = false;  // with promote: past a failing gate (audited)
};
void model_upload(modelgate::Client& client, const Output& out, const UploadArgs& args);
void model_list(modelgate::Client& client, const Output& out);
void model_show(modelgate::Client& client, const Output& out, const std::string& name);
void model_versions(modelgate::Client& client, const Output& out, const std::string& name);
// force: the default alias only, past a failing gate (audited).
void model_alias(modelgate::Client& client, const Output& out, const std::string& name,
                 const std::string& alias, int64_t version, bool force = false);
// An alias at VERSION[:WEIGHT]… (a canary when more than one); prints the split.
void model_alias_split(modelgate::Client& client, const Output& out, const std::string& name,
                       const std::string& alias, const std::vector<std::string>& versions,
                       bool sticky, bool force);
// A weighted alias back to its own version alone.
void model_rollback(modelgate::Client& client, const Output& out, const std::string& name,
                    const std::string& alias);
// The model's shadow: set (version > 0), removed (remove), or shown with its comparison;
// report: the comparison so far kept as a report.
struct ShadowArgs {
  int64_t version = 0;  // the candidate to set; 0: show (or remove, or report)
  double share = 0.1;
  std::string alias = "default";
  bool remove = false;
  bool report = false;
};
void model_shadow(modelgate::Client& client, const Output& out, const std::string& name,
                  const ShadowArgs& args);
// The automatic rollback's thresholds for the model's canaries.
struct CanaryArgs {
  std::optional<double> max_error_rate, max_p99_ms;
  std::optional<int64_t> min_requests;
  bool remove = false;
};
void model_canary(modelgate::Client& client, const Output& out, const std::string& name,
                  const CanaryArgs& args);
// load | unload | retire
void model_action(modelgate::Client& client, const Output& out, const std::string& name,
                  int64_t version, const std::string& action);
void backend_list(modelgate::Client& client, const Output& out);

// Evaluation before promotion (docs/evaluation.md).
void dataset_upload(modelgate::Client& client, const Output& out, const std::string& name,
                    const std::string& file, const std::string& description,
                    const std::string& signature);
void dataset_list(modelgate::Client& client, const Output& out);
void dataset_show(modelgate::Client& client, const Output& out, const std::string& name);
void dataset_remove(modelgate::Client& client, const Output& out, const std::string& name);
// Prints the report's figures, the default version's beside them, and the verdict.
void model_evaluate(modelgate::Client& client, const Output& out, const std::string& name,
                    int64_t version, const std::string& dataset, uint32_t top_k);
// A model's reports, newest first (of one version when version > 0); --json exports them.
void model_reports(modelgate::Client& client, const Output& out, const std::string& name,
                   int64_t version);
struct GateArgs {
  std::string dataset;
  std::optional<double> min_accuracy, max_accuracy_drop, max_p99_ms;
  std::optional<int64_t> top_k;
  bool remove = false;
};
void model_gate(modelgate::Client& client, const Output& out, const std::string& name,
                const GateArgs& args);
void infer(modelgate::Client& client, const Output& out, const std::string& name,
           const std::string& version, const std::string& input_file);
// Raw inputs (docs/preprocessing.md) — the bytes of PNG or JPEG files, or texts — as the
// input `input_name` (the model's first input when empty) of a model that preprocesses it:
// one BYTES tensor of shape [N], binary. top > 0 asks for the top classes of the model's
// first output ("score:index:label").
// Over gRPC (ModelInfer, raw_input_contents) when `grpc` is not null.
void infer_raw(modelgate::Client& client, modelgate::GrpcClient* grpc, const Output& out,
               const std::string& name, const std::string& version, std::string input_name,
               const std::vector<std::string>& image_files, const std::vector<std::string>& texts,
               uint32_t top);
// The same request as a gRPC ModelInfer call (`mgctl infer --grpc`), printed alike. A
// refusal throws std::runtime_error with the status message; a server that cannot be
// reached, TransportError.
void infer_grpc(modelgate::GrpcClient& client, const Output& out, const std::string& name,
                const std::string& version, const std::string& input_file);

void tenant_create(modelgate::Client& client, const Output& out, const std::string& name,
                   const std::string& quota);
void tenant_list(modelgate::Client& client, const Output& out);

struct KeyCreateArgs {
  std::string tenant, scope = "infer", rate, models = "*", expires;
  std::optional<int64_t> burst;
  bool signed_only = false;
};
void key_create(modelgate::Client& client, const Output& out, const KeyCreateArgs& args);
void key_list(modelgate::Client& client, const Output& out, const std::string& tenant);
void key_revoke(modelgate::Client& client, const Output& out, const std::string& id);

// Offline: prints the signature file of FILE (Ed25519 over its SHA-256) to stdout.
void sign(const std::string& file, const std::string& private_key_file);
void signer_add(modelgate::Client& client, const Output& out, const std::string& name,
                const std::string& public_key_file);
void signer_list(modelgate::Client& client, const Output& out);
void signer_remove(modelgate::Client& client, const Output& out, const std::string& name);

struct UsageArgs {
  std::string tenant, since, until, format = "table";  // table | json | csv
};
void usage(modelgate::Client& client, const Output& out, const UsageArgs& args);
// "2026-11-28", "2026-11-28T13:00" (UTC) or unix seconds → unix seconds.
int64_t parse_time(const std::string& text);

// "50/s" or "50" → 50; throws std::invalid_argument.
double parse_rate(const std::string& text);
// "30d", "12h", "90m", "3600s", "3600" → seconds; throws std::invalid_argument.
int64_t parse_duration(const std::string& text);

}  // namespace mg::admin
