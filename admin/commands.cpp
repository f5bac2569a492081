#include "admin/commands.h"

#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <vector>

#include "registry/artifact_signature.h"
#include "registry/sha256.h"

namespace mg::admin {
namespace {

namespace json = boost::json;

std::string read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string aliases_text(const json::value& aliases) {
  std::string text;
  if (aliases.is_object()) {
    for (const auto& [alias, version] : aliases.as_object()) {
      text += (text.empty() ? "" : ",") + std::string(alias) + "=" + cell(version);
    }
  } else if (aliases.is_array()) {
    for (const auto& alias : aliases.as_array()) text += (text.empty() ? "" : ",") + cell(alias);
  }
  return text;
}

// A version's newest evaluation (model show): "pass 0.8718 p99 0.31ms fashion-test #3".
std::string evaluation_text(const json::object& version) {
  const json::value* e = version.if_contains("evaluation");
  if (e == nullptr || !e->is_object()) return "";
  const auto& o = e->as_object();
  char figures[96] = "";
  if (o.contains("accuracy")) {
    std::snprintf(figures, sizeof figures, " %.4f", o.at("accuracy").to_number<double>());
  }
  char p99[48] = "";
  if (o.contains("p99_ms")) {
    std::snprintf(p99, sizeof p99, " p99 %.2fms", o.at("p99_ms").to_number<double>());
  }
  return cell(o.at("verdict")) + figures + p99 + " " + cell(o.at("dataset")) + " #" +
         cell(o.at("report"));
}

void print_versions(const json::array& versions) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& v : versions) {
    const auto& o = v.as_object();
    rows.push_back({cell(o.at("version")), cell(o.at("state")), aliases_text(o.at("aliases")),
                    human_bytes(o.at("size").to_number<double>()),
                    cell(o.at("artifact")).substr(0, 12), cell(o.at("notes")), cell(o.at("reason")),
                    evaluation_text(o)});
  }
  print_table({"VERSION", "STATE", "ALIASES", "SIZE", "ARTIFACT", "NOTES", "REASON", "EVALUATION"},
              rows);
}

// Redraws one line on a terminal; silent when stderr is not one.
class ProgressBar {
 public:
  explicit ProgressBar(bool enabled) : enabled_(enabled && ::isatty(STDERR_FILENO)) {}
  void update(uint64_t sent, uint64_t total) {
    if (!enabled_) return;
    const int percent = total == 0 ? 100 : static_cast<int>(100 * sent / total);
    if (percent == last_) return;
    last_ = percent;
    const int filled = percent * 30 / 100;
    std::fprintf(stderr, "\ruploading [%s%s] %3d%% %s / %s", std::string(filled, '#').c_str(),
                 std::string(30 - filled, ' ').c_str(), percent,
                 human_bytes(static_cast<double>(sent)).c_str(),
                 human_bytes(static_cast<double>(total)).c_str());
    if (sent == total) std::fprintf(stderr, "\n");
  }

 private:
  bool enabled_;
  int last_ = -1;
};

}  // namespace

double parse_rate(const std::string& text) {
  std::string number = text;
  if (number.ends_with("/s")) number.resize(number.size() - 2);
  std::size_t used = 0;
  double rate = -1;
  try {
    rate = std::stod(number, &used);
  } catch (const std::exception&) {
  }
  if (used != number.size() || !(rate >= 0)) {
    throw std::invalid_argument("rate '" + text + "' must look like 50/s");
  }
  return rate;
}

int64_t parse_duration(const std::string& text) {
  std::size_t used = 0;
  long long amount = -1;
  try {
    amount = std::stoll(text, &used);
  } catch (const std::exception&) {
  }
  const std::string unit = text.substr(used);
  const int64_t scale = unit.empty() || unit == "s" ? 1
                        : unit == "m"               ? 60
                        : unit == "h"               ? 3600
                        : unit == "d"               ? 86400
                                                    : 0;
  if (amount <= 0 || scale == 0) {
    throw std::invalid_argument("duration '" + text + "' must look like 30d, 12h, 90m or 3600s");
  }
  return amount * scale;
}

void model_create(modelgate::Client& client, const Output& out, const ModelCreateArgs& args) {
  json::object config;
  if (args.max_batch) config["max_batch_size"] = *args.max_batch;
  if (args.max_delay_us) config["max_queue_delay_us"] = *args.max_delay_us;
  if (args.instances) config["instances"] = *args.instances;
  for (const std::string& entry : args.config) {
    const std::size_t eq = entry.find('=');
    if (eq == 0 || eq == std::string::npos) {
      throw std::invalid_argument("--config '" + entry + "' must look like KEY=VALUE");
    }
    const std::string key = entry.substr(0, eq), text = entry.substr(eq + 1);
    if (config.contains(key)) {
      throw std::invalid_argument("--config sets '" + key + "' a second time");
    }
    boost::system::error_code ec;
    json::value value = json::parse(text, ec);
    config[key] = ec ? json::value(text) : std::move(value);
  }
  json::object spec{{"name", args.name},
                    {"backend", args.backend},
                    {"description", args.description},
                    {"require_signature", args.require_signature},
                    {"config", config}};
  json::value created = expect_ok(client.create_model(json::serialize(spec)));
  if (out.json) return print_json(created);
  std::cout << "created model " << args.name << " (backend " << args.backend << ")\n";
}

namespace {

// "NAME=VALUE" → {NAME, VALUE}; throws naming the option otherwise.
std::pair<std::string, std::string> named_value(const std::string& text, const char* option) {
  const std::size_t equals = text.find('=');
  if (equals == std::string::npos || equals == 0 || equals + 1 == text.size()) {
    throw std::invalid_argument(std::string(option) + " takes NAME=PATH, not '" + text + "'");
  }
  return {text.substr(0, equals), text.substr(equals + 1)};
}

}  // namespace

void model_upload(modelgate::Client& client, const Output& out, const UploadArgs& args) {
  std::map<std::string, std::string> signatures;  // file name → signature file text
  for (const auto& named : args.file_signatures) {
    auto [name, path] = named_value(named, "--file-signature");
    signatures[name] = read_whole(path);
  }
  // The version's files first, each an artifact of its own; the version names them.
  std::map<std::string, std::string> files;
  for (const auto& named : args.files) {
    auto [name, path] = named_value(named, "--file");
    if (files.count(name) > 0)
      throw std::invalid_argument("the file '" + name + "' is given twice");
    const auto signature = signatures.find(name);
    json::value stored = expect_ok(client.upload_artifact(
        path, {}, signature == signatures.end() ? std::string_view() : signature->second));
    files[name] = json::value_to<std::string>(stored.as_object().at("digest"));
  }
  // --preprocess / --postprocess: the version's own sections of the model config, each a
  // file of the version holding the JSON object.
  for (const auto& [name, text] : args.sections) {
    boost::system::error_code ec;
    if (!json::parse(text, ec).is_object() || ec) {
      throw std::invalid_argument("--" + name + " must be a JSON object");
    }
    if (files.count(name) > 0)
      throw std::invalid_argument("the file '" + name + "' is given twice");
    char path[] = "/tmp/mgctl-section-XXXXXX";
    const int fd = ::mkstemp(path);
    if (fd < 0) throw std::runtime_error("cannot write a temporary file for --" + name);
    const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    try {
      if (!written) throw std::runtime_error("cannot write a temporary file for --" + name);
      json::value stored = expect_ok(client.upload_artifact(path));
      files[name] = json::value_to<std::string>(stored.as_object().at("digest"));
    } catch (...) {
      ::unlink(path);
      throw;
    }
    ::unlink(path);
  }
  for (const auto& [name, signature] : signatures) {
    if (files.count(name) == 0) {
      throw std::invalid_argument("--file-signature names '" + name + "', which is no --file");
    }
  }
  ProgressBar bar(!out.json);
  const std::string signature = args.signature.empty() ? "" : read_whole(args.signature);
  json::value v = expect_ok(client.upload_version(
      args.name, args.file, args.notes, args.promote,
      [&bar](uint64_t sent, uint64_t total) { bar.update(sent, total); }, signature, files,
      args.force));
  if (out.json) return print_json(v);
  const auto& o = v.as_object();
  std::cout << args.name << " version " << cell(o.at("version")) << " (" << cell(o.at("state"))
            << (args.promote ? ", default" : "") << ")\n";
}

void model_list(modelgate::Client& client, const Output& out) {
  json::value body = expect_ok(client.list_models());
  if (out.json) return print_json(body);
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : body.as_object().at("models").as_array()) {
    const auto& o = m.as_object();
    rows.push_back({cell(o.at("name")), cell(o.at("backend")), aliases_text(o.at("aliases")),
                    cell(o.at("description"))});
  }
  print_table({"NAME", "BACKEND", "ALIASES", "DESCRIPTION"}, rows);
}

void model_show(modelgate::Client& client, const Output& out, const std::string& name) {
  json::value body = expect_ok(client.show_model(name));
  if (out.json) return print_json(body);
  const auto& o = body.as_object();
  std::cout << "name:               " << cell(o.at("name")) << "\n"
            << "backend:            " << cell(o.at("backend")) << "\n"
            << "isolation:          " << (o.contains("isolation") ? cell(o.at("isolation")) : "-")
            << "\n"
            << "description:        " << cell(o.at("description")) << "\n"
            << "config:             " << cell(o.at("config")) << "\n"
            << "require signature:  " << cell(o.at("require_signature")) << "\n"
            << "aliases:            " << aliases_text(o.at("aliases")) << "\n\n";
  print_versions(o.at("versions").as_array());
}

void model_versions(modelgate::Client& client, const Output& out, const std::string& name) {
  json::value body = expect_ok(client.list_versions(name));
  if (out.json) return print_json(body);
  print_versions(body.as_object().at("versions").as_array());
}

void model_alias(modelgate::Client& client, const Output& out, const std::string& name,
                 const std::string& alias, int64_t version, bool force) {
  json::value body = expect_ok(client.set_alias(name, alias, version, force));
  if (out.json) return print_json(body);
  std::cout << name << ": " << alias << " -> version " << version << "\n";
}

void model_action(modelgate::Client& client, const Output& out, const std::string& name,
                  int64_t version, const std::string& action) {
  json::value body = expect_ok(client.version_action(name, version, action));
  if (out.json) return print_json(body);
  std::cout << name << " version " << version << ": " << cell(body.as_object().at("state")) << "\n";
}

void backend_list(modelgate::Client& client, const Output& out) {
  json::value body = expect_ok(client.list_backends());
  if (out.json) return print_json(body);
  std::vector<std::vector<std::string>> rows;
  for (const auto& b : body.as_object().at("backends").as_array()) {
    const auto& o = b.as_object();
    rows.push_back({cell(o.at("name")), cell(o.at("state")), cell(o.at("version")),
                    cell(o.at("abi")),
                    o.contains("isolation") ? cell(o.at("isolation")) : std::string("-"),
                    cell(o.at("reason"))});
  }
  print_table({"NAME", "STATE", "VERSION", "ABI", "ISOLATION", "REASON"}, rows);
}

namespace {

void print_infer_answer(const Output& out, const json::value& body) {
  if (out.json) return print_json(body);
  const auto& o = body.as_object();
  std::cout << "model " << cell(o.at("model_name")) << " version " << cell(o.at("model_version"))
            << "\n";
  for (const auto& output : o.at("outputs").as_array()) {
    const auto& t = output.as_object();
    std::cout << cell(t.at("name")) << " " << cell(t.at("datatype")) << " " << cell(t.at("shape"))
              << ": " << (t.contains("data") ? cell(t.at("data")) : "") << "\n";
  }
}

}  // namespace

void infer(modelgate::Client& client, const Output& out, const std::string& name,
           const std::string& version, const std::string& input_file) {
  print_infer_answer(out, expect_ok(client.infer(name, version, read_whole(input_file))));
}

namespace {

// A gRPC answer as the HTTPS client's would be: the JSON body, or the refusal thrown.
json::value grpc_ok(const modelgate::GrpcResponse& answer) {
  constexpr int kUnavailable = 14;
  if (answer.code == kUnavailable && answer.error_code.empty())
    throw modelgate::TransportError(answer.message);
  if (!answer.ok()) throw std::runtime_error(answer.message);
  return json::parse(answer.body);
}

}  // namespace

void infer_raw(modelgate::Client& client, modelgate::GrpcClient* grpc, const Output& out,
               const std::string& name, const std::string& version, std::string input_name,
               const std::vector<std::string>& image_files, const std::vector<std::string>& texts,
               uint32_t top) {
  std::vector<std::string> elements = texts;
  for (const auto& file : image_files) elements.push_back(read_whole(file));
  // One BYTES tensor of the elements, each a 4-byte little-endian length and the bytes,
  // in the binary tensor extension (over gRPC: raw_input_contents); outputs come back as
  // JSON.
  std::string tensor;
  for (const auto& bytes : elements) {
    const auto length = static_cast<uint32_t>(bytes.size());
    for (int shift = 0; shift < 32; shift += 8)
      tensor += static_cast<char>((length >> shift) & 0xff);
    tensor += bytes;
  }
  json::value metadata;
  if (input_name.empty() || top > 0) {
    metadata = grpc != nullptr ? grpc_ok(grpc->model_metadata(name, version))
                               : expect_ok(client.model_metadata(name, version));
  }
  if (input_name.empty()) {  // the model's first input
    input_name = json::value_to<std::string>(
        metadata.as_object().at("inputs").as_array().at(0).as_object().at("name"));
  }
  json::object request{
      {"inputs", json::array{json::object{
                     {"name", input_name},
                     {"datatype", "BYTES"},
                     {"shape", json::array{static_cast<int64_t>(elements.size())}},
                     {"parameters", json::object{{"binary_data_size", tensor.size()}}}}}}};
  if (top > 0) {  // the classification extension on the model's first output
    const auto& first = metadata.as_object().at("outputs").as_array().at(0).as_object();
    request["outputs"] = json::array{json::object{
        {"name", first.at("name")}, {"parameters", json::object{{"classification", top}}}}};
  }
  const std::string header = json::serialize(request);
  if (grpc != nullptr) {
    print_infer_answer(out, grpc_ok(grpc->infer(name, version, header, tensor)));
    return;
  }
  std::string target = "/v2/models/" + modelgate::Client::url_encode(name);
  if (!version.empty()) target += "/versions/" + modelgate::Client::url_encode(version);
  print_infer_answer(out,
                     expect_ok(client.request(
                         "POST", target + "/infer", header + tensor, "application/octet-stream",
                         {{"Inference-Header-Content-Length", std::to_string(header.size())}})));
}

void infer_grpc(modelgate::GrpcClient& client, const Output& out, const std::string& name,
                const std::string& version, const std::string& input_file) {
  print_infer_answer(out, grpc_ok(client.infer(name, version, read_whole(input_file))));
}

void tenant_create(modelgate::Client& client, const Output& out, const std::string& name,
                   const std::string& quota) {
  json::object spec{{"name", name}};
  if (!quota.empty()) {
    const std::size_t slash = quota.find('/');
    std::size_t used = 0;
    long long limit = -1;
    try {
      limit = std::stoll(quota.substr(0, slash), &used);
    } catch (const std::exception&) {
    }
    if (slash == std::string::npos || used != slash || limit < 0) {
      throw std::invalid_argument("quota '" + quota + "' must look like 1000000/month");
    }
    spec["quota"] = limit;
    spec["period"] = quota.substr(slash + 1);
  }
  json::value body = expect_ok(client.request("POST", "/admin/v1/tenants", json::serialize(spec)));
  if (out.json) return print_json(body);
  std::cout << "created tenant " << name << "\n";
}

void tenant_list(modelgate::Client& client, const Output& out) {
  json::value body = expect_ok(client.request("GET", "/admin/v1/tenants"));
  if (out.json) return print_json(body);
  std::vector<std::vector<std::string>> rows;
  for (const auto& t : body.as_object().at("tenants").as_array()) {
    const auto& o = t.as_object();
    const bool limited = o.at("quota").to_number<double>() > 0;
    rows.push_back({cell(o.at("name")),
                    limited ? cell(o.at("quota")) + "/" + cell(o.at("period")) : "unlimited"});
  }
  print_table({"NAME", "QUOTA"}, rows);
}

void key_create(modelgate::Client& client, const Output& out, const KeyCreateArgs& args) {
  json::object spec{{"tenant", args.tenant},
                    {"scopes", args.scope},
                    {"models", args.models},
                    {"signed_only", args.signed_only}};
  if (!args.rate.empty()) spec["rate"] = parse_rate(args.rate);
  if (args.burst) spec["burst"] = *args.burst;
  if (!args.expires.empty()) spec["expires_in_seconds"] = parse_duration(args.expires);
  json::value body = expect_ok(client.request("POST", "/admin/v1/keys", json::serialize(spec)));
  if (out.json) return print_json(body);
  const auto& o = body.as_object();
  std::cout << "key " << cell(o.at("id")) << " for tenant " << cell(o.at("tenant"))
            << " (shown once; it is not stored):\n"
            << cell(o.at("key")) << "\n";
}

void key_list(modelgate::Client& client, const Output& out, const std::string& tenant) {
  std::string target = "/admin/v1/keys";
  if (!tenant.empty()) target += "?tenant=" + modelgate::Client::url_encode(tenant);
  json::value body = expect_ok(client.request("GET", target));
  if (out.json) return print_json(body);
  std::vector<std::vector<std::string>> rows;
  for (const auto& k : body.as_object().at("keys").as_array()) {
    const auto& o = k.as_object();
    rows.push_back({cell(o.at("id")), cell(o.at("tenant")), cell(o.at("scopes")),
                    cell(o.at("models")), cell(o.at("rate")), cell(o.at("signed_only")),
                    o.at("revoked").as_bool() ? "revoked" : "live"});
  }
  print_table({"ID", "TENANT", "SCOPES", "MODELS", "RATE", "SIGNED ONLY", "STATUS"}, rows);
}

void key_revoke(modelgate::Client& client, const Output& out, const std::string& id) {
  json::value body = expect_ok(client.request("DELETE", "/admin/v1/keys/" + id));
  if (out.json) return print_json(body);
  std::cout << "revoked key " << id << "\n";
}

void sign(const std::string& file, const std::string& private_key_file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read '" + file + "'");
  registry::Sha256 hasher;  // streamed: the model file is never whole in memory
  std::vector<char> chunk(1 << 20);
  while (in.read(chunk.data(), static_cast<std::streamsize>(chunk.size())) || in.gcount() > 0) {
    hasher.update(std::as_bytes(std::span(chunk.data(), static_cast<std::size_t>(in.gcount()))));
  }
  const auto signature = registry::sign_digest(hasher.hex_digest(), read_whole(private_key_file));
  std::cout << registry::format_signature(signature);
}

void signer_add(modelgate::Client& client, const Output& out, const std::string& name,
                const std::string& public_key_file) {
  json::object body{{"name", name}, {"public_key", read_whole(public_key_file)}};
  json::value added = expect_ok(client.request("POST", "/admin/v1/signers", json::serialize(body)));
  if (out.json) return print_json(added);
  std::cout << "trusted signer " << name << " added\n";
}

void signer_list(modelgate::Client& client, const Output& out) {
  json::value body = expect_ok(client.request("GET", "/admin/v1/signers"));
  if (out.json) return print_json(body);
  std::vector<std::vector<std::string>> rows;
  for (const auto& signer : body.as_object().at("signers").as_array()) {
    const auto& o = signer.as_object();
    rows.push_back({cell(o.at("name")), cell(o.at("algorithm")), cell(o.at("public_key_sha256"))});
  }
  print_table({"NAME", "ALGORITHM", "PUBLIC KEY SHA-256"}, rows);
}

void signer_remove(modelgate::Client& client, const Output& out, const std::string& name) {
  json::value body = expect_ok(client.request("DELETE", "/admin/v1/signers/" + name));
  if (out.json) return print_json(body);
  std::cout << "signer " << name << " removed\n";
}

int64_t parse_time(const std::string& text) {
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    return std::stoll(text);
  }
  std::tm utc{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M", &utc);
  if (end == nullptr || *end != '\0') {
    utc = {};
    end = strptime(text.c_str(), "%Y-%m-%d", &utc);
  }
  if (end == nullptr || *end != '\0') {
    throw std::invalid_argument("time '" + text +
                                "' must be YYYY-MM-DD, YYYY-MM-DDTHH:MM (UTC) or unix seconds");
  }
  return static_cast<int64_t>(timegm(&utc));
}

void usage(modelgate::Client& client, const Output& out, const UsageArgs& args) {
  if (args.format != "table" && args.format != "json" && args.format != "csv") {
    throw std::invalid_argument("--format must be table, json or csv");
  }
  std::string target = "/admin/v1/usage?tenant=" + modelgate::Client::url_encode(args.tenant);
  if (!args.since.empty()) target += "&since=" + std::to_string(parse_time(args.since));
  if (!args.until.empty()) target += "&until=" + std::to_string(parse_time(args.until));
  json::value body = expect_ok(client.request("GET", target));
  if (out.json || args.format == "json") return print_json(body);
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : body.as_object().at("usage").as_array()) {
    const auto& o = r.as_object();
    const std::time_t hour = static_cast<std::time_t>(o.at("hour").as_int64());
    std::tm utc{};
    gmtime_r(&hour, &utc);
    char when[32];
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:00Z", &utc);
    rows.push_back({when, cell(o.at("tenant")), cell(o.at("key_id")), cell(o.at("model")),
                    cell(o.at("version")), cell(o.at("requests")), cell(o.at("items")),
                    cell(o.at("errors"))});
  }
  const std::vector<std::string> header = {"HOUR",    "TENANT",   "KEY",   "MODEL",
                                           "VERSION", "REQUESTS", "ITEMS", "ERRORS"};
  if (args.format == "table") return print_table(header, rows);
  // CSV: names are [a-z0-9._-] and numbers, so nothing needs quoting.
  std::vector<std::string> lower;
  for (const auto& h : header) {
    std::string l = h;
    for (char& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    lower.push_back(l);
  }
  rows.insert(rows.begin(), lower);
  for (const auto& row : rows) {
    std::string line;
    for (const auto& field : row) line += (line.empty() ? "" : ",") + field;
    std::cout << line << "\n";
  }
}

}  // namespace mg::admin
