// ModelGate C++ client SDK: the KServe v2 data plane and the admin API over HTTPS.
//
// One Client holds one kept-alive TLS connection and is not thread-safe: use one per
// thread. Requests return the server's answer whatever its status (check ok(); error
// bodies are {"error": "...", "code": "..."}); failures to reach the server at all throw
// modelgate::TransportError. Bodies are JSON text: parse them with the JSON library you
// already use.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace modelgate {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct ClientOptions {
  std::string server = "https://127.0.0.1:8443";  // https://HOST[:PORT]
  std::string api_key;                            // sent as "Authorization: Bearer …"
  std::string ca_file;               // PEM certificate(s) to trust; empty: the system's store
  std::chrono::seconds timeout{60};  // per socket read or write
  // Sign every request (MG1-HMAC-SHA256 with X-MG-* headers) instead of sending the key:
  // the secret never travels. Required for signed-only keys.
  bool sign = false;
};

// Request signing (docs/contracts.md "Authentication"): lowercase hex SHA-256 of a body, and the
// X-MG-Signature value HMAC-SHA256(key = the full API key, msg = the string to sign).
std::string sha256_hex(std::string_view data);
std::string sign_request(std::string_view api_key, std::string_view method, std::string_view target,
                         std::string_view timestamp, std::string_view nonce,
                         std::string_view body_sha256_hex);

struct Response {
  int status = 0;
  std::string body;
  Headers headers;

  bool ok() const { return status >= 200 && status < 300; }
  // The first header with this name (case-insensitive), or "".
  std::string header(std::string_view name) const;
};

// The server could not be reached, the TLS handshake or certificate check failed, or the
// connection broke mid-request.
class TransportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Called during uploads with the bytes sent so far and the total.
using Progress = std::function<void(uint64_t sent, uint64_t total)>;

class Client {
 public:
  // Throws std::invalid_argument for a server URL that is not https://HOST[:PORT].
  explicit Client(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Any request. target is the path and query, e.g. "/v2/models/m/infer". Reconnects
  // once when the kept-alive connection turns out to be closed.
  Response request(std::string_view method, std::string_view target, std::string_view body = {},
                   std::string_view content_type = "application/json", const Headers& extra = {});
  // POSTs a file as the body without reading it whole: it announces itself with
  // "Expect: 100-continue", so a refusal arrives before any byte is sent.
  Response upload(std::string_view target, const std::filesystem::path& file,
                  const Progress& progress = {}, const Headers& extra = {});

  // ---- KServe v2 (docs/contracts.md "Data plane") --------------------------------------------
  Response server_ready();
  // version: a number, an alias, or "" for the default alias.
  Response model_metadata(std::string_view model, std::string_view version = {});
  Response infer(std::string_view model, std::string_view version, std::string_view request_json);

  // ---- Admin API (/admin/v1; an admin-scope key) ---------------------------------------
  Response list_models();
  Response show_model(std::string_view model);
  Response create_model(std::string_view spec_json);
  Response list_versions(std::string_view model);
  // signature_file: the text of an artifact signature file (`mgctl sign`), or empty.
  // files: the other files the version carries, name → digest of an artifact uploaded
  // with upload_artifact ("vocabulary", "labels"). A model with a gate evaluates a version
  // before promoting it (docs/evaluation.md); force promotes past a failing gate, audited.
  Response upload_version(std::string_view model, const std::filesystem::path& file,
                          std::string_view notes = {}, bool promote = false,
                          const Progress& progress = {}, std::string_view signature_file = {},
                          const std::map<std::string, std::string>& files = {}, bool force = false);
  // A file a version will carry (a vocabulary, labels): stored, encrypted and signed as a
  // model is; the answer's "digest" names it in upload_version's files.
  Response upload_artifact(const std::filesystem::path& file, const Progress& progress = {},
                           std::string_view signature_file = {});
  // force: the default alias only — past a failing gate, audited.
  Response set_alias(std::string_view model, std::string_view alias, int64_t version,
                     bool force = false);
  // A weighted alias (a canary): (version, weight) pairs, the first the alias's own
  // (stable) version; sticky splits by API key instead of per request.
  Response set_alias_split(std::string_view model, std::string_view alias,
                           const std::vector<std::pair<int64_t, uint32_t>>& versions,
                           bool sticky = false, bool force = false);
  // A weighted alias back to its own version alone.
  Response rollback_alias(std::string_view model, std::string_view alias);
  // The model's shadow: `version` gets copies of `share` (0..1] of `alias`'s requests,
  // compared with the served answers and dropped. show_shadow answers the comparison.
  Response set_shadow(std::string_view model, int64_t version, double share,
                      std::string_view alias = "default");
  Response show_shadow(std::string_view model);
  Response remove_shadow(std::string_view model);
  // Keeps the shadow's comparison so far as a report of the candidate (201).
  Response report_shadow(std::string_view model);
  // The automatic rollback of the model's canaries: {"max_error_rate", "max_p99_ms",
  // "min_requests"} (docs/evaluation.md "Automatic rollback").
  Response set_canary(std::string_view model, std::string_view canary_json);
  Response remove_canary(std::string_view model);
  // load | unload | retire
  Response version_action(std::string_view model, int64_t version, std::string_view action);
  Response list_backends();

  // ---- Evaluation before promotion (docs/evaluation.md) --------------------------------
  // Uploads a dataset file as an artifact and names it (again: the name moves to the new
  // content). The server checks its records before naming it.
  Response upload_dataset(std::string_view name, const std::filesystem::path& file,
                          std::string_view description = {}, const Progress& progress = {},
                          std::string_view signature_file = {});
  Response list_datasets();
  Response show_dataset(std::string_view name);
  Response remove_dataset(std::string_view name);
  // dataset empty: the gate's; top_k 0: the gate's, else 5. Answers the stored report.
  Response evaluate(std::string_view model, int64_t version, std::string_view dataset = {},
                    uint32_t top_k = 0);
  // Newest first; of one version when version > 0.
  Response list_reports(std::string_view model, int64_t version = 0);
  // gate_json: {"dataset", "min_accuracy", "max_accuracy_drop", "max_p99_ms", "top_k"}.
  Response set_gate(std::string_view model, std::string_view gate_json);
  Response remove_gate(std::string_view model);

  // Percent-encodes a query-string value.
  static std::string url_encode(std::string_view text);

  struct Connection;  // opaque: defined in client.cpp

 private:
  Response exchange(const std::function<Response(Connection&)>& attempt);
  Connection& connection();

  ClientOptions options_;
  std::string host_, port_;
  std::unique_ptr<Connection> connection_;
};

}  // namespace modelgate
