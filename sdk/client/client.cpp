// The client SDK's transport: Boost.Beast over OpenSSL, synchronous, one connection.
#include "modelgate/client.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <optional>

#include "modelgate/hex.h"
#include "modelgate/signing.h"

namespace modelgate {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

constexpr char kUserAgent[] = "modelgate-client/0.1";
constexpr std::size_t kChunk = 1 << 20;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

Response to_response(http::response<http::string_body>&& message) {
  Response response;
  response.status = static_cast<int>(message.result_int());
  for (const auto& field : message) {
    response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  response.body = std::move(message.body());
  return response;
}

std::string version_path(std::string_view model, std::string_view version) {
  std::string path = "/v2/models/" + std::string(model);
  if (!version.empty()) path += "/versions/" + std::string(version);
  return path;
}

}  // namespace

struct Client::Connection {
  net::io_context ioc;
  ssl::context tls{ssl::context::tls_client};
  std::optional<beast::ssl_stream<tcp::socket>> stream;
  beast::flat_buffer buffer;
  bool reused = false;  // has carried a request before (a stale keep-alive may be closed)
};

std::string Response::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return value;
  }
  return {};
}

Client::Client(ClientOptions options) : options_(std::move(options)) {
  std::string_view url = options_.server;
  if (!url.starts_with("https://")) {
    throw std::invalid_argument("server URL must start with https:// (got '" + options_.server +
                                "')");
  }
  url.remove_prefix(8);
  while (url.ends_with('/')) url.remove_suffix(1);
  const std::size_t colon = url.rfind(':');
  const bool bracketed = url.starts_with('[');
  if (colon != std::string_view::npos && (!bracketed || url[colon - 1] == ']')) {
    host_ = std::string(url.substr(0, colon));
    port_ = std::string(url.substr(colon + 1));
  } else {
    host_ = std::string(url);
    port_ = "443";
  }
  if (bracketed && host_.size() > 2) host_ = host_.substr(1, host_.size() - 2);
  if (host_.empty() || port_.empty() || url.find('/') != std::string_view::npos) {
    throw std::invalid_argument("server URL must be https://HOST[:PORT] (got '" + options_.server +
                                "')");
  }
}

Client::~Client() = default;

Client::Connection& Client::connection() {
  if (connection_) return *connection_;
  auto c = std::make_unique<Connection>();
  const std::string where = "https://" + host_ + ":" + port_;
  try {
    c->tls.set_verify_mode(ssl::verify_peer);
    SSL_CTX_set_min_proto_version(c->tls.native_handle(), TLS1_2_VERSION);
    if (options_.ca_file.empty()) {
      c->tls.set_default_verify_paths();
    } else {
      c->tls.load_verify_file(options_.ca_file);
    }
  } catch (const std::exception& e) {
    throw TransportError("cannot use CA file '" + options_.ca_file + "': " + e.what());
  }
  c->stream.emplace(c->ioc, c->tls);
  // SNI (SSL_set_tlsext_host_name is a macro with a C cast; this is its expansion).
  SSL_ctrl(c->stream->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
           host_.data());
  c->stream->set_verify_callback(ssl::host_name_verification(host_));
  beast::error_code ec;
  tcp::resolver resolver(c->ioc);
  auto endpoints = resolver.resolve(host_, port_, ec);
  if (!ec) net::connect(c->stream->next_layer(), endpoints, ec);
  if (ec) throw TransportError("cannot connect to " + where + ": " + ec.message());
  // A request's head and body are separate writes: with Nagle's algorithm the body waited
  // for the server's delayed ACK of the head, ~40 ms on every request of a kept-alive
  // connection.
  c->stream->next_layer().set_option(tcp::no_delay(true), ec);
  // Blocking reads and writes give up after the timeout instead of hanging.
  timeval timeout{static_cast<time_t>(options_.timeout.count()), 0};
  const int fd = c->stream->next_layer().native_handle();
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  c->stream->handshake(ssl::stream_base::client, ec);
  if (ec) throw TransportError("TLS handshake with " + where + " failed: " + ec.message());
  connection_ = std::move(c);
  return *connection_;
}

Response Client::exchange(const std::function<Response(Connection&)>& send) {
  for (int attempt = 0;; ++attempt) {
    Connection& c = connection();
    const bool reused = c.reused;
    try {
      c.reused = true;
      return send(c);
    } catch (const beast::system_error& e) {
      connection_.reset();
      // A kept-alive connection the server has since closed fails at once: one retry on a
      // fresh connection. Anything else is the caller's to know about.
      if (!reused || attempt > 0) {
        throw TransportError("request to https://" + host_ + ":" + port_ +
                             " failed: " + e.code().message());
      }
    }
  }
}

namespace {

// Reads a whole response; the connection stays usable when the server keeps it alive.
Response read_response(beast::ssl_stream<tcp::socket>& stream, beast::flat_buffer& buffer,
                       bool& keep_alive) {
  http::response_parser<http::string_body> parser;
  parser.body_limit(boost::none);
  http::read(stream, buffer, parser);
  keep_alive = parser.get().keep_alive();
  return to_response(parser.release());
}

// Bodies above this go out behind "Expect: 100-continue", so a refusal (401, 413, …)
// arrives before they are sent, as curl does.
constexpr std::size_t kExpectContinueAbove = 1 << 20;

struct RequestHead {
  http::verb verb;
  std::string_view target, host, api_key, content_type;
  const Headers& extra;
  bool expect_continue;  // send the head alone and wait for "100 Continue"
  bool sign;
  std::string_view body_sha256;  // when signing
};

std::string random_nonce() {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";  // 64: no bias
  unsigned char bytes[24];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("no randomness for a nonce");
  std::string nonce;
  for (unsigned char b : bytes) nonce.push_back(kAlphabet[b & 63]);
  return nonce;
}

// Authorization: a bearer key, or the four X-MG-* signature headers.
template <class Request>
void authenticate(Request& req, const RequestHead& h) {
  if (h.api_key.empty()) return;
  if (!h.sign) {
    req.set(http::field::authorization, "Bearer " + std::string(h.api_key));
    return;
  }
  const auto key = std::string(h.api_key);
  const std::string timestamp = std::to_string(std::time(nullptr));
  const std::string nonce = random_nonce();
  req.set("X-MG-Key-Id", key.size() > 15 ? key.substr(3, 12) : key);
  req.set("X-MG-Timestamp", timestamp);
  req.set("X-MG-Nonce", nonce);
  req.set("X-MG-Signature",
          sign_request(key, http::to_string(h.verb), h.target, timestamp, nonce, h.body_sha256));
}

// Writes one request whose body comes from next_piece (bytes written into the buffer;
// 0 = ended early) and reads the answer. `reusable` tells whether the connection may
// carry another request.
Response send(beast::ssl_stream<tcp::socket>& stream, beast::flat_buffer& buffer,
              const RequestHead& h, uint64_t size,
              const std::function<std::size_t(char*, std::size_t)>& next_piece,
              const Progress& progress, bool& reusable) {
  http::request<http::empty_body> req{h.verb, h.target, 11};
  req.set(http::field::host, h.host);
  req.set(http::field::user_agent, kUserAgent);
  authenticate(req, h);
  const auto& content_type = h.content_type;
  const auto& extra = h.extra;
  const http::verb verb = h.verb;
  if (size > 0) req.set(http::field::content_type, content_type);
  for (const auto& [name, value] : extra) req.set(name, value);
  const bool expect_continue = h.expect_continue;
  if (expect_continue) req.set(http::field::expect, "100-continue");
  if (size > 0 || verb == http::verb::post || verb == http::verb::put) req.content_length(size);
  req.keep_alive(true);
  http::request_serializer<http::empty_body> head{req};
  http::write_header(stream, head);
  reusable = false;
  if (expect_continue) {
    bool keep_alive = false;
    Response first = read_response(stream, buffer, keep_alive);
    if (first.status != 100) return first;  // the body was never sent: not reusable
  }
  std::vector<char> chunk(std::min<uint64_t>(kChunk, size));
  for (uint64_t sent = 0; sent < size;) {
    const std::size_t got = next_piece(chunk.data(), std::min<uint64_t>(chunk.size(), size - sent));
    if (got == 0) throw std::runtime_error("the request body ended early");
    net::write(stream, net::buffer(chunk.data(), got));
    sent += got;
    if (progress) progress(sent, size);
  }
  return read_response(stream, buffer, reusable);
}

}  // namespace

Response Client::request(std::string_view method, std::string_view target, std::string_view body,
                         std::string_view content_type, const Headers& extra) {
  const http::verb verb = http::string_to_verb(method);
  if (verb == http::verb::unknown) {
    throw std::invalid_argument("unknown HTTP method '" + std::string(method) + "'");
  }
  return exchange([&](Connection& c) {
    std::size_t at = 0;
    bool reusable = false;
    const std::string body_hash = options_.sign ? sha256_hex(body) : std::string();
    Response response = send(
        *c.stream, c.buffer,
        {verb, target, host_, options_.api_key, content_type, extra,
         body.size() > kExpectContinueAbove, options_.sign, body_hash},
        body.size(),
        [&](char* out, std::size_t max) {
          const std::size_t n = std::min(max, body.size() - at);
          std::memcpy(out, body.data() + at, n);
          at += n;
          return n;
        },
        {}, reusable);
    if (!reusable) connection_.reset();
    return response;
  });
}

Response Client::upload(std::string_view target, const std::filesystem::path& file,
                        const Progress& progress, const Headers& extra) {
  std::error_code size_error;
  const uint64_t total = std::filesystem::file_size(file, size_error);
  std::ifstream in(file, std::ios::binary);
  if (size_error || !in) throw std::invalid_argument("cannot read '" + file.string() + "'");
  std::string body_hash;
  if (options_.sign) {  // the signature covers the body's hash: one pass over the file first
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> hasher(EVP_MD_CTX_new(),
                                                                   EVP_MD_CTX_free);
    bool ok = hasher && EVP_DigestInit_ex(hasher.get(), EVP_sha256(), nullptr) == 1;
    std::vector<char> chunk(kChunk);
    while (ok &&
           (in.read(chunk.data(), static_cast<std::streamsize>(chunk.size())) || in.gcount() > 0)) {
      ok = EVP_DigestUpdate(hasher.get(), chunk.data(), static_cast<std::size_t>(in.gcount())) == 1;
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    ok = ok && EVP_DigestFinal_ex(hasher.get(), digest, &size) == 1;
    if (!ok) throw std::runtime_error("cannot hash '" + file.string() + "'");
    body_hash = to_hex(digest, size);
  }
  return exchange([&](Connection& c) {
    in.clear();
    in.seekg(0);
    bool reusable = false;
    Response response = send(
        *c.stream, c.buffer,
        {http::verb::post, target, host_, options_.api_key, "application/octet-stream", extra, true,
         options_.sign, body_hash},
        total,
        [&](char* out, std::size_t max) {
          in.read(out, static_cast<std::streamsize>(max));
          return static_cast<std::size_t>(in.gcount());
        },
        progress, reusable);
    if (!reusable) connection_.reset();
    return response;
  });
}

std::string sha256_hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return to_hex(digest, sizeof digest);
}

std::string sign_request(std::string_view api_key, std::string_view method, std::string_view target,
                         std::string_view timestamp, std::string_view nonce,
                         std::string_view body_sha256_hex) {
  const std::string message = string_to_sign(method, target, timestamp, nonce, body_sha256_hex);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), api_key.data(), static_cast<int>(api_key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &size);
  return to_hex(mac, size);
}

std::string Client::url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out;
}

Response Client::server_ready() { return request("GET", "/v2/health/ready"); }

Response Client::model_metadata(std::string_view model, std::string_view version) {
  return request("GET", version_path(model, version));
}

Response Client::infer(std::string_view model, std::string_view version,
                       std::string_view request_json) {
  return request("POST", version_path(model, version) + "/infer", request_json);
}

Response Client::list_models() { return request("GET", "/admin/v1/models"); }

Response Client::show_model(std::string_view model) {
  return request("GET", "/admin/v1/models/" + std::string(model));
}

Response Client::create_model(std::string_view spec_json) {
  return request("POST", "/admin/v1/models", spec_json);
}

Response Client::list_versions(std::string_view model) {
  return request("GET", "/admin/v1/models/" + std::string(model) + "/versions");
}

namespace {

// The X-MG-Artifact-Signature header: the signature file in base64.
void add_signature_header(Headers& headers, std::string_view signature_file) {
  if (signature_file.empty()) return;
  std::string encoded(4 * ((signature_file.size() + 2) / 3) + 1, '\0');
  const int size = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                                   reinterpret_cast<const unsigned char*>(signature_file.data()),
                                   static_cast<int>(signature_file.size()));
  encoded.resize(static_cast<std::size_t>(size));
  headers.emplace_back("X-MG-Artifact-Signature", encoded);
}

// A JSON string literal of `text` (the SDK takes no JSON library dependency).
std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

Response Client::upload_version(std::string_view model, const std::filesystem::path& file,
                                std::string_view notes, bool promote, const Progress& progress,
                                std::string_view signature_file,
                                const std::map<std::string, std::string>& files, bool force) {
  std::string target = "/admin/v1/models/" + std::string(model) + "/versions?promote=";
  target += promote ? "true" : "false";
  if (force) target += "&force=true";
  if (!notes.empty()) target += "&notes=" + url_encode(notes);
  Headers extra;
  add_signature_header(extra, signature_file);
  if (!files.empty()) {
    std::string named;
    for (const auto& [name, digest] : files) {
      named += (named.empty() ? "" : ", ") + name + "=" + digest;
    }
    extra.emplace_back("X-MG-Version-Files", named);
  }
  return upload(target, file, progress, extra);
}

Response Client::upload_artifact(const std::filesystem::path& file, const Progress& progress,
                                 std::string_view signature_file) {
  Headers extra;
  add_signature_header(extra, signature_file);
  return upload("/admin/v1/artifacts", file, progress, extra);
}

Response Client::set_alias(std::string_view model, std::string_view alias, int64_t version,
                           bool force) {
  return request("PUT", "/admin/v1/models/" + std::string(model) + "/aliases/" + std::string(alias),
                 "{\"version\":" + std::to_string(version) + (force ? ",\"force\":true}" : "}"));
}

Response Client::set_alias_split(std::string_view model, std::string_view alias,
                                 const std::vector<std::pair<int64_t, uint32_t>>& versions,
                                 bool sticky, bool force) {
  std::string body = "{\"versions\":[";
  for (std::size_t i = 0; i < versions.size(); ++i) {
    body += std::string(i ? "," : "") + "{\"version\":" + std::to_string(versions[i].first) +
            ",\"weight\":" + std::to_string(versions[i].second) + "}";
  }
  body += std::string("],\"sticky\":") + (sticky ? "true" : "false") +
          ",\"force\":" + (force ? "true" : "false") + "}";
  return request("PUT", "/admin/v1/models/" + std::string(model) + "/aliases/" + std::string(alias),
                 body);
}

Response Client::rollback_alias(std::string_view model, std::string_view alias) {
  return request("POST", "/admin/v1/models/" + std::string(model) + "/aliases/" +
                             std::string(alias) + "/rollback");
}

Response Client::set_shadow(std::string_view model, int64_t version, double share,
                            std::string_view alias) {
  char share_text[32];
  std::snprintf(share_text, sizeof share_text, "%.17g", share);
  return request("PUT", "/admin/v1/models/" + std::string(model) + "/shadow",
                 "{\"version\":" + std::to_string(version) + ",\"share\":" + share_text +
                     ",\"alias\":" + json_string(alias) + "}");
}

Response Client::show_shadow(std::string_view model) {
  return request("GET", "/admin/v1/models/" + std::string(model) + "/shadow");
}

Response Client::remove_shadow(std::string_view model) {
  return request("DELETE", "/admin/v1/models/" + std::string(model) + "/shadow");
}

Response Client::version_action(std::string_view model, int64_t version, std::string_view action) {
  return request("POST", "/admin/v1/models/" + std::string(model) + "/versions/" +
                             std::to_string(version) + "/" + std::string(action));
}

Response Client::list_backends() { return request("GET", "/admin/v1/backends"); }

Response Client::upload_dataset(std::string_view name, const std::filesystem::path& file,
                                std::string_view description, const Progress& progress,
                                std::string_view signature_file) {
  Response stored = upload_artifact(file, progress, signature_file);
  if (!stored.ok()) return stored;
  // {"digest": "<64 hex>", …}: the one field needed, read without a JSON dependency.
  const std::size_t key = stored.body.find("\"digest\"");
  const std::size_t start = key == std::string::npos ? key : stored.body.find('"', key + 8);
  if (start == std::string::npos || start + 65 > stored.body.size()) {
    throw TransportError("the server's answer to an artifact upload has no digest");
  }
  const std::string digest = stored.body.substr(start + 1, 64);
  return request("POST", "/admin/v1/datasets",
                 "{\"name\":" + json_string(name) + ",\"artifact\":\"" + digest +
                     "\",\"description\":" + json_string(description) + "}");
}

Response Client::list_datasets() { return request("GET", "/admin/v1/datasets"); }

Response Client::show_dataset(std::string_view name) {
  return request("GET", "/admin/v1/datasets/" + std::string(name));
}

Response Client::remove_dataset(std::string_view name) {
  return request("DELETE", "/admin/v1/datasets/" + std::string(name));
}

Response Client::evaluate(std::string_view model, int64_t version, std::string_view dataset,
                          uint32_t top_k) {
  std::string body = "{";
  if (!dataset.empty()) body += "\"dataset\":" + json_string(dataset);
  if (top_k > 0)
    body += std::string(body.size() > 1 ? "," : "") + "\"top_k\":" + std::to_string(top_k);
  return request("POST",
                 "/admin/v1/models/" + std::string(model) + "/versions/" + std::to_string(version) +
                     "/evaluate",
                 body + "}");
}

Response Client::list_reports(std::string_view model, int64_t version) {
  return request("GET", "/admin/v1/models/" + std::string(model) + "/reports" +
                            (version > 0 ? "?version=" + std::to_string(version) : ""));
}

Response Client::set_gate(std::string_view model, std::string_view gate_json) {
  return request("PUT", "/admin/v1/models/" + std::string(model) + "/gate", gate_json);
}

Response Client::remove_gate(std::string_view model) {
  return request("DELETE", "/admin/v1/models/" + std::string(model) + "/gate");
}

Response Client::report_shadow(std::string_view model) {
  return request("POST", "/admin/v1/models/" + std::string(model) + "/shadow/report", "{}");
}

Response Client::set_canary(std::string_view model, std::string_view canary_json) {
  return request("PUT", "/admin/v1/models/" + std::string(model) + "/canary", canary_json);
}

Response Client::remove_canary(std::string_view model) {
  return request("DELETE", "/admin/v1/models/" + std::string(model) + "/canary");
}

}  // namespace modelgate
