// mgctl: the ModelGate admin CLI (docs/contracts.md "Admin CLI").
// Exit status: 0 success; 1 the server refused (its code and message are printed);
// 2 bad usage; 3 the server could not be reached (connection, TLS, certificate).
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "admin/commands.h"

namespace {

std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace mg::admin;
  CLI::App app{"mgctl: manage a ModelGate server (models, versions, keys, tenants)"};
  app.set_version_flag("--version", "0.1.0");
  app.require_subcommand(1);
  modelgate::ClientOptions options;
  options.server = env_or("MG_SERVER", "https://127.0.0.1:8443");
  options.api_key = env_or("MG_KEY", "");
  options.ca_file = env_or("MG_CACERT", "");
  Output out;
  app.add_option("--server", options.server, "server URL (env MG_SERVER)");
  app.add_option("--key", options.api_key, "API key (env MG_KEY)");
  app.add_option("--cacert", options.ca_file, "CA certificate to trust, PEM (env MG_CACERT)");
  app.add_flag("--json", out.json, "print one JSON document");
  app.add_flag("--signed", options.sign,
               "sign requests (MG1-HMAC-SHA256) instead of sending the key (env MG_SIGNED=1)");
  options.sign = env_or("MG_SIGNED", "") == "1";
  std::function<void(modelgate::Client&)> run;

  // ---- model ---------------------------------------------------------------------------
  auto* model = app.add_subcommand("model", "models and their versions")->require_subcommand(1);
  ModelCreateArgs create;
  auto* create_cmd = model->add_subcommand("create", "create a model");
  create_cmd->add_option("name", create.name, "model name")->required();
  create_cmd->add_option("--backend", create.backend, "backend (default cpu)");
  create_cmd->add_option("--description", create.description, "description");
  create_cmd->add_option("--max-batch", create.max_batch, "max batch size")
      ->check(CLI::Range(1, 1 << 20));
  create_cmd->add_option("--max-delay-us", create.max_delay_us, "max queue delay for batching, µs")
      ->check(CLI::Range(0, 60'000'000));
  create_cmd->add_option("--instances", create.instances, "backend instances")
      ->check(CLI::Range(1, 64));
  create_cmd->add_flag("--require-signature", create.require_signature,
                       "versions must carry a trusted signature");
  create_cmd->add_option("--config", create.config,
                         "KEY=VALUE for the backend's model config, repeatable (cpu: threads=N, "
                         "conv_winograd=true); VALUE is JSON, or else a string");
  create_cmd->callback([&] { run = [&](auto& c) { model_create(c, out, create); }; });

  UploadArgs upload;
  auto* upload_cmd = model->add_subcommand("upload", "upload a new version (prints its number)");
  upload_cmd->add_option("name", upload.name, "model name")->required();
  upload_cmd->add_option("file", upload.file, "model file")->required()->check(CLI::ExistingFile);
  upload_cmd->add_option("--notes", upload.notes, "notes kept with the version");
  upload_cmd->add_option("--signature", upload.signature, "signature file (mgctl sign)")
      ->check(CLI::ExistingFile);
  std::string vocab_file, labels_file;
  upload_cmd->add_option("--vocab", vocab_file, "the tokeniser's vocabulary (file 'vocabulary')")
      ->check(CLI::ExistingFile);
  upload_cmd->add_option("--labels", labels_file, "class labels, one per line (file 'labels')")
      ->check(CLI::ExistingFile);
  upload_cmd->add_option("--file", upload.files,
                         "another file the version carries, NAME=PATH (repeatable)");
  upload_cmd->add_option("--file-signature", upload.file_signatures,
                         "a file's signature, NAME=FILE.sig (mgctl sign; repeatable)");
  std::string preprocess_json, postprocess_json;
  upload_cmd->add_option("--preprocess", preprocess_json,
                         "this version's own \"preprocess\" (a JSON object; replaces the model "
                         "config's)");
  upload_cmd->add_option("--postprocess", postprocess_json,
                         "this version's own \"postprocess\" (a JSON object)");
  upload_cmd->add_flag("--promote", upload.promote,
                       "load it and move the default alias to it (a gated model evaluates it "
                       "first)");
  upload_cmd->add_flag("--force", upload.force,
                       "with --promote: promote past a failing gate (audited)");
  upload_cmd->callback([&] {
    if (!vocab_file.empty()) upload.files.push_back("vocabulary=" + vocab_file);
    if (!labels_file.empty()) upload.files.push_back("labels=" + labels_file);
    if (!preprocess_json.empty()) upload.sections["preprocess"] = preprocess_json;
    if (!postprocess_json.empty()) upload.sections["postprocess"] = postprocess_json;
    run = [&](auto& c) { model_upload(c, out, upload); };
  });

  model->add_subcommand("list", "list models")->callback([&] {
    run = [&](auto& c) { model_list(c, out); };
  });
  std::string name, alias, action_name;
  int64_t version = 0;
  auto* show_cmd = model->add_subcommand("show", "a model, its aliases and versions");
  show_cmd->add_option("name", name, "model name")->required();
  show_cmd->callback([&] { run = [&](auto& c) { model_show(c, out, name); }; });
  auto* versions_cmd = model->add_subcommand("versions", "a model's versions");
  versions_cmd->add_option("name", name, "model name")->required();
  versions_cmd->callback([&] { run = [&](auto& c) { model_versions(c, out, name); }; });
  auto* promote_cmd = model->add_subcommand(
      "promote", "move the default alias to a version (through the model's gate)");
  promote_cmd->add_option("name", name, "model name")->required();
  promote_cmd->add_option("version", version, "version")->required();
  bool force = false;
  promote_cmd->add_flag("--force", force, "promote past a failing gate (audited)");
  promote_cmd->callback(
      [&] { run = [&](auto& c) { model_alias(c, out, name, "default", version, force); }; });
  auto* alias_cmd = model->add_subcommand(
      "alias", "point an alias at a version, or split it among versions (a canary: 3:90 4:10)");
  alias_cmd->add_option("name", name, "model name")->required();
  alias_cmd->add_option("alias", alias, "alias")->required();
  std::vector<std::string> alias_versions;
  alias_cmd
      ->add_option("versions", alias_versions,
                   "VERSION or VERSION:WEIGHT, the first the stable one")
      ->required();
  bool sticky = false;
  alias_cmd->add_flag("--sticky", sticky, "split by API key (a key stays on one version)");
  alias_cmd->add_flag("--force", force, "default alias: past a failing gate (audited)");
  alias_cmd->callback([&] {
    run = [&](auto& c) { model_alias_split(c, out, name, alias, alias_versions, sticky, force); };
  });
  std::string rollback_alias = "default";
  auto* rollback_cmd =
      model->add_subcommand("rollback", "a split alias back to its stable version alone");
  rollback_cmd->add_option("name", name, "model name")->required();
  rollback_cmd->add_option("alias", rollback_alias, "alias (default: default)");
  rollback_cmd->callback(
      [&] { run = [&](auto& c) { model_rollback(c, out, name, rollback_alias); }; });
  for (const char* action : {"load", "unload", "retire"}) {
    auto* cmd = model->add_subcommand(action, std::string(action) + " a version");
    cmd->add_option("name", name, "model name")->required();
    cmd->add_option("version", version, "version")->required();
    cmd->callback([&, action] {
      action_name = action;
      run = [&](auto& c) { model_action(c, out, name, version, action_name); };
    });
  }

  // ---- evaluation before promotion -------------------------------------------------------
  std::string dataset_name;
  uint32_t top_k = 0;
  auto* evaluate_cmd = model->add_subcommand(
      "evaluate", "run a version over a dataset, beside the default version; keep the report");
  evaluate_cmd->add_option("name", name, "model name")->required();
  evaluate_cmd->add_option("version", version, "version")->required();
  evaluate_cmd->add_option("--dataset", dataset_name, "dataset (default: the gate's)");
  evaluate_cmd->add_option("--top-k", top_k, "top-k accuracy's k (default: the gate's, else 5)")
      ->check(CLI::Range(1, 65536));
  evaluate_cmd->callback(
      [&] { run = [&](auto& c) { model_evaluate(c, out, name, version, dataset_name, top_k); }; });
  int64_t reports_version = 0;
  auto* reports_cmd =
      model->add_subcommand("reports", "a model's evaluation reports, newest first (--json)");
  reports_cmd->add_option("name", name, "model name")->required();
  reports_cmd->add_option("--version", reports_version, "of this version only");
  reports_cmd->callback(
      [&] { run = [&](auto& c) { model_reports(c, out, name, reports_version); }; });
  GateArgs gate;
  auto* gate_cmd = model->add_subcommand(
      "gate", "set the thresholds a version must meet before it becomes the default");
  gate_cmd->add_option("name", name, "model name")->required();
  gate_cmd->add_option("--dataset", gate.dataset, "the dataset versions are evaluated on");
  gate_cmd->add_option("--min-accuracy", gate.min_accuracy, "top-1 accuracy at least (0..1)")
      ->check(CLI::Range(0.0, 1.0));
  gate_cmd
      ->add_option("--max-accuracy-drop", gate.max_accuracy_drop,
                   "accuracy lost against the default version at most (0..1)")
      ->check(CLI::Range(0.0, 1.0));
  gate_cmd->add_option("--max-p99-ms", gate.max_p99_ms, "p99 latency per record at most, ms")
      ->check(CLI::NonNegativeNumber);
  gate_cmd->add_option("--top-k", gate.top_k, "k of the reports' top-k accuracy (default 5)")
      ->check(CLI::Range(1, 65536));
  gate_cmd->add_flag("--remove", gate.remove, "remove the gate");
  gate_cmd->callback([&] { run = [&](auto& c) { model_gate(c, out, name, gate); }; });

  ShadowArgs shadow;
  auto* shadow_cmd = model->add_subcommand(
      "shadow", "copy a share of an alias's requests to a candidate version and compare");
  shadow_cmd->add_option("name", name, "model name")->required();
  shadow_cmd->add_option("version", shadow.version, "the candidate (none: show the comparison)");
  shadow_cmd->add_option("--share", shadow.share, "share of the alias's requests copied (0..1]")
      ->check(CLI::Range(0.0, 1.0));
  shadow_cmd->add_option("--alias", shadow.alias, "the alias whose requests are copied");
  shadow_cmd->add_flag("--remove", shadow.remove, "stop shadowing");
  shadow_cmd->add_flag("--report", shadow.report,
                       "keep the comparison so far as a report (mgctl model reports)");
  shadow_cmd->callback([&] { run = [&](auto& c) { model_shadow(c, out, name, shadow); }; });

  CanaryArgs canary;
  auto* canary_cmd = model->add_subcommand(
      "canary", "roll a weighted alias back when its canary's error rate or p99 passes a limit");
  canary_cmd->add_option("name", name, "model name")->required();
  canary_cmd
      ->add_option("--max-error-rate", canary.max_error_rate,
                   "share of the canary's requests answered with an error at most (0..1)")
      ->check(CLI::Range(0.0, 1.0));
  canary_cmd->add_option("--max-p99-ms", canary.max_p99_ms, "the canary's p99 at most, ms")
      ->check(CLI::PositiveNumber);
  canary_cmd
      ->add_option("--min-requests", canary.min_requests,
                   "requests the canary answers before it is judged (default 100)")
      ->check(CLI::PositiveNumber);
  canary_cmd->add_flag("--remove", canary.remove, "no automatic rollback");
  canary_cmd->callback([&] { run = [&](auto& c) { model_canary(c, out, name, canary); }; });

  auto* dataset = app.add_subcommand("dataset", "evaluation datasets")->require_subcommand(1);
  std::string dataset_file, dataset_description, dataset_signature;
  auto* dataset_upload_cmd =
      dataset->add_subcommand("upload", "upload a dataset (KServe v2 requests with labels)");
  dataset_upload_cmd->add_option("name", name, "dataset name")->required();
  dataset_upload_cmd->add_option("file", dataset_file, "dataset file")
      ->required()
      ->check(CLI::ExistingFile);
  dataset_upload_cmd->add_option("--description", dataset_description, "description");
  dataset_upload_cmd->add_option("--signature", dataset_signature, "signature file (mgctl sign)")
      ->check(CLI::ExistingFile);
  dataset_upload_cmd->callback([&] {
    run = [&](auto& c) {
      dataset_upload(c, out, name, dataset_file, dataset_description, dataset_signature);
    };
  });
  dataset->add_subcommand("list", "list datasets")->callback([&] {
    run = [&](auto& c) { dataset_list(c, out); };
  });
  auto* dataset_show_cmd = dataset->add_subcommand("show", "a dataset");
  dataset_show_cmd->add_option("name", name, "dataset name")->required();
  dataset_show_cmd->callback([&] { run = [&](auto& c) { dataset_show(c, out, name); }; });
  auto* dataset_remove_cmd = dataset->add_subcommand("remove", "remove a dataset");
  dataset_remove_cmd->add_option("name", name, "dataset name")->required();
  dataset_remove_cmd->callback([&] { run = [&](auto& c) { dataset_remove(c, out, name); }; });

  // ---- backend, infer --------------------------------------------------------------------
  auto* backend = app.add_subcommand("backend", "inference backends")->require_subcommand(1);
  backend->add_subcommand("list", "backends and their state")->callback([&] {
    run = [&](auto& c) { backend_list(c, out); };
  });
  std::string infer_version, input;
  auto* infer_cmd = app.add_subcommand("infer", "run one inference request (KServe v2 JSON)");
  infer_cmd->add_option("name", name, "model name")->required();
  infer_cmd->add_option("--version", infer_version, "version or alias (default: default)");
  // What to send: a request file, image files or texts (exactly one of the three).
  auto* what = infer_cmd->add_option_group("request");
  what->add_option("--input", input, "request JSON file")->check(CLI::ExistingFile);
  std::vector<std::string> images, texts;
  std::string raw_input;
  what->add_option("--image", images,
                   "PNG or JPEG file(s) sent raw, for a model that preprocesses its input")
      ->check(CLI::ExistingFile);
  what->add_option("--text", texts,
                   "text(s) sent raw, for a model that tokenises its input (repeatable)");
  what->require_option(1);
  infer_cmd->add_option("--image-input,--text-input", raw_input,
                        "the input the images or texts go to (default: the model's first)");
  uint32_t top = 0;
  infer_cmd
      ->add_option("--top", top,
                   "answer with the top K classes of the first output (score:index:label)")
      ->check(CLI::Range(1, 65536));
  bool over_grpc = false;
  modelgate::GrpcClientOptions grpc_options;
  grpc_options.address = env_or("MG_GRPC_SERVER", grpc_options.address);
  infer_cmd->add_flag("--grpc", over_grpc,
                      "call the KServe v2 gRPC API instead of HTTPS (same key, CA, --signed)");
  infer_cmd->add_option("--grpc-server", grpc_options.address,
                        "HOST:PORT of the gRPC listener (env MG_GRPC_SERVER)");
  infer_cmd->callback([&] {
    run = [&](auto& c) {
      const bool raw = !images.empty() || !texts.empty();
      if (top > 0 && !raw) throw std::invalid_argument("--top goes with --image or --text");
      if (!over_grpc) {
        if (raw)
          return infer_raw(c, nullptr, out, name, infer_version, raw_input, images, texts, top);
        return infer(c, out, name, infer_version, input);
      }
      grpc_options.api_key = options.api_key;
      grpc_options.ca_file = options.ca_file;
      grpc_options.sign = options.sign;
      modelgate::GrpcClient grpc(grpc_options);
      if (raw) return infer_raw(c, &grpc, out, name, infer_version, raw_input, images, texts, top);
      infer_grpc(grpc, out, name, infer_version, input);
    };
  });

  // ---- tenant, key -------------------------------------------------------------------------
  auto* tenant = app.add_subcommand("tenant", "tenants")->require_subcommand(1);
  std::string quota;
  auto* tenant_create_cmd = tenant->add_subcommand("create", "create a tenant");
  tenant_create_cmd->add_option("name", name, "tenant name")->required();
  tenant_create_cmd->add_option("--quota", quota, "requests per period, e.g. 1000000/month");
  tenant_create_cmd->callback([&] { run = [&](auto& c) { tenant_create(c, out, name, quota); }; });
  tenant->add_subcommand("list", "list tenants")->callback([&] {
    run = [&](auto& c) { tenant_list(c, out); };
  });
  auto* key = app.add_subcommand("key", "API keys")->require_subcommand(1);
  KeyCreateArgs key_args;
  auto* key_create_cmd = key->add_subcommand("create", "create a key (printed once)");
  key_create_cmd->add_option("--tenant", key_args.tenant, "tenant")->required();
  key_create_cmd->add_option("--scope", key_args.scope, "infer, admin or infer,admin");
  key_create_cmd->add_option("--rate", key_args.rate, "requests per second, e.g. 50/s");
  key_create_cmd->add_option("--burst", key_args.burst, "token bucket size")
      ->check(CLI::NonNegativeNumber);
  key_create_cmd->add_option("--models", key_args.models, "glob of models the key may use");
  key_create_cmd->add_flag("--signed-only", key_args.signed_only, "accept only signed requests");
  key_create_cmd->add_option("--expires", key_args.expires, "lifetime, e.g. 30d, 12h");
  key_create_cmd->callback([&] { run = [&](auto& c) { key_create(c, out, key_args); }; });
  std::string key_tenant, key_id;
  auto* key_list_cmd = key->add_subcommand("list", "list keys (never their secrets)");
  key_list_cmd->add_option("--tenant", key_tenant, "only this tenant's keys");
  key_list_cmd->callback([&] { run = [&](auto& c) { key_list(c, out, key_tenant); }; });
  auto* key_revoke_cmd = key->add_subcommand("revoke", "revoke a key (effective at once)");
  key_revoke_cmd->add_option("id", key_id, "key id (the 12 characters after mg_)")->required();
  key_revoke_cmd->callback([&] { run = [&](auto& c) { key_revoke(c, out, key_id); }; });

  // ---- signatures -------------------------------------------------------------------------
  std::string sign_file, private_key, public_key;
  auto* sign_cmd = app.add_subcommand("sign", "sign a model file offline (prints FILE.sig)");
  sign_cmd->add_option("file", sign_file, "model file")->required()->check(CLI::ExistingFile);
  sign_cmd->add_option("--key", private_key, "Ed25519 private key, PEM")
      ->required()
      ->check(CLI::ExistingFile);
  auto* signer = app.add_subcommand("signer", "trusted signers")->require_subcommand(1);
  auto* signer_add_cmd = signer->add_subcommand("add", "trust an Ed25519 public key");
  signer_add_cmd->add_option("name", name, "signer name")->required();
  signer_add_cmd->add_option("public_key", public_key, "public key, PEM")
      ->required()
      ->check(CLI::ExistingFile);
  signer_add_cmd->callback([&] { run = [&](auto& c) { signer_add(c, out, name, public_key); }; });
  signer->add_subcommand("list", "trusted signers")->callback([&] {
    run = [&](auto& c) { signer_list(c, out); };
  });
  auto* signer_remove_cmd = signer->add_subcommand("remove", "stop trusting a signer");
  signer_remove_cmd->add_option("name", name, "signer name")->required();
  signer_remove_cmd->callback([&] { run = [&](auto& c) { signer_remove(c, out, name); }; });

  // ---- usage ---------------------------------------------------------------------------
  UsageArgs usage_args;
  auto* usage_cmd =
      app.add_subcommand("usage", "metered usage per hour, tenant, key, model, version");
  usage_cmd->add_option("--tenant", usage_args.tenant, "only this tenant");
  usage_cmd->add_option("--since", usage_args.since,
                        "from (YYYY-MM-DD[THH:MM] UTC or unix seconds)");
  usage_cmd->add_option("--until", usage_args.until, "before (same formats)");
  usage_cmd->add_option("--format", usage_args.format, "table, json or csv");
  usage_cmd->callback([&] { run = [&](auto& c) { usage(c, out, usage_args); }; });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    if (sign_cmd->parsed()) {  // offline: no server, no key
      sign(sign_file, private_key);
      return 0;
    }
    modelgate::Client client(options);
    run(client);
    return 0;
  } catch (const ServerError& e) {
    std::cerr << "mgctl: " << e.what() << "\n";
    return 1;
  } catch (const modelgate::TransportError& e) {
    std::cerr << "mgctl: " << e.what() << "\n";
    return 3;
  } catch (const std::invalid_argument& e) {
    std::cerr << "mgctl: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "mgctl: " << e.what() << "\n";
    return 1;
  }
}
