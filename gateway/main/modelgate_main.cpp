// modelgate: the server. Verbs:
//   modelgate init   --data-dir DIR [--json]       create the registry, TLS certificate, master key
//   modelgate import --data-dir DIR NAME FILE [--config JSON] [--backend cpu]
//                    [--file NAME=PATH]... [--promote]
//                                                  register a model version offline
//   modelgate rotate-master-key --data-dir DIR     (server stopped)
//   modelgate migrate-to-postgres --data-dir DIR --postgres URL   (server stopped)
//   modelgate serve  --data-dir DIR [--config FILE] [--listen HOST:PORT]
//                    [--metrics-listen HOST:PORT] [--plugin-dir DIR]...
// init, import and serve also take --postgres URL --master-key FILE (cluster mode).
// See docs/contracts.md "Server and bootstrap".
#include <fcntl.h>
#include <malloc.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>
#include <vector>

#include "common/log.h"
#include "gateway/api/canary_guard.h"
#include "gateway/api/router.h"
#include "gateway/auth/authenticator.h"
#include "gateway/grpc/grpc_server.h"
#include "gateway/http/https_server.h"
#include "gateway/limits/limits.h"
#include "gateway/main/data_dir.h"
#include "gateway/main/self_signed.h"
#include "gateway/main/serve_config.h"
#include "gateway/metrics/access_log.h"
#include "gateway/metrics/metrics.h"
#include "gateway/plugin_host/backend_manager.h"
#include "gateway/plugin_host/worker_process.h"
#include "gateway/serving/model_repository.h"
#include "gateway/serving/server_state.h"
#include "modelgate/hex.h"
#include "registry/copy_to_postgres.h"
#include "registry/names.h"
#include "registry/registry.h"
#include "registry/sha256.h"

namespace fs = std::filesystem;
using namespace mg::gateway;
using mg::log;
using mg::LogLevel;

namespace {

constexpr char kVersion[] = "0.1.0";

int init(const DataDir& dir, bool json) {
  // Initialised means an admin key was issued: an init interrupted before that finishes
  // on the next run. Cluster mode: the catalogue is the cluster's; a replica's directory
  // (certificate, cache) is prepared on each replica, the first admin key issued once.
  if (!dir.clustered() && dir.initialised() &&
      !mg::registry::Registry(dir.registry_options()).list_keys("admin").empty()) {
    if (json) {
      std::cout << R"({"initialised":false,"reason":"already initialised"})"
                << "\n";
    } else {
      std::cout << "data dir " << dir.root.string() << " is already initialised; nothing changed\n";
    }
    return 0;
  }
  fs::create_directories(dir.root / "tls");
  if (!fs::exists(dir.certificate()))
    write_self_signed_certificate(dir.certificate(), dir.private_key());
  // The master key comes first: the admin key's hash and sealed secret derive from it.
  if (!fs::exists(dir.master_key())) write_master_key(dir.master_key());
  mg::registry::Registry registry(dir.registry_options());
  if (dir.clustered() && !registry.list_keys("admin").empty()) {
    if (json) {
      std::cout
          << R"({"initialised":false,"reason":"the cluster's catalogue is already initialised"})"
          << "\n";
    } else {
      std::cout << "the cluster's catalogue is already initialised; this replica's directory "
                << dir.root.string() << " is ready\n";
    }
    return 0;
  }
  Authenticator auth(registry, KeyCrypto::from_file(dir.master_key()));
  if (!registry.find_tenant("admin")) {
    registry.create_tenant("admin", 0, mg::registry::QuotaPeriod::kMonth, "init");
  }
  KeySpec spec;
  spec.tenant = "admin";
  spec.scopes = mg::registry::kScopeAdmin | mg::registry::kScopeInfer;
  const IssuedKey admin = auth.issue_key(spec, "init");
  // The key goes to a file only its owner reads, never to stdout unless that is a person's
  // terminal: the container and the systemd unit send stdout to logs that are kept.
  write_secret_file(dir.admin_key(), admin.key + "\n");
  const bool terminal = ::isatty(STDOUT_FILENO) == 1;
  if (json) {
    boost::json::object out{{"initialised", true},
                            {"certificate", dir.certificate().string()},
                            {"admin_key_file", dir.admin_key().string()}};
    if (terminal) out["admin_key"] = admin.key;
    std::cout << boost::json::serialize(out) << "\n";
  } else {
    std::cout << "initialised " << dir.root.string()
              << "\ncertificate: " << dir.certificate().string() << "\nadmin key written to "
              << dir.admin_key().string() << " (mode 0600)\n";
    if (terminal) std::cout << "admin key: " << admin.key << "\n";
    std::cout << "keep it elsewhere and delete the file, or replace it: create another admin key "
                 "(mgctl key create --tenant admin --scope admin) and revoke this one\n";
  }
  return 0;
}

// Streams a file into the artifact store (encrypted when the server encrypts).
mg::registry::StoredArtifact store_file(mg::registry::Registry& registry, const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + file.string());
  auto writer = registry.artifacts().begin_write();
  std::vector<char> chunk(1 << 20);
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    writer.write(std::as_bytes(std::span(chunk.data(), static_cast<std::size_t>(in.gcount()))));
  }
  return writer.commit();
}

// `files`: the version's other files, "NAME=PATH" each (a vocabulary, labels).
int import_model(const DataDir& dir, const std::string& name, const fs::path& file,
                 const std::string& backend, const std::string& config,
                 const std::vector<std::string>& files, bool promote) {
  refuse_during_rotation(dir);
  mg::registry::Registry registry(dir.registry_options());
  if (!registry.find_model(name)) registry.create_model({name, backend, "", config}, "import");
  std::map<std::string, std::string> file_digests;
  for (const std::string& named : files) {
    const std::size_t equals = named.find('=');
    if (equals == std::string::npos || equals == 0 || equals + 1 == named.size()) {
      throw std::runtime_error("--file takes NAME=PATH, not '" + named + "'");
    }
    mg::registry::validate_file_name(named.substr(0, equals));
    const auto artifact = store_file(registry, named.substr(equals + 1));
    registry.add_artifact(artifact, "import");
    file_digests[named.substr(0, equals)] = artifact.digest;
  }
  auto version =
      registry.add_version(name, store_file(registry, file), "imported from " + file.string(),
                           "import", false, file_digests);
  if (promote) registry.set_alias(name, "default", version.version, "import");
  std::cout << name << " version " << version.version << (promote ? " (default)" : "") << "\n";
  return 0;
}

// The server holds decrypted models, sealed-key secrets opened for signature checks and
// the master key's derivatives in memory: a core dump would write them to disk, where a
// reader of crash files (or a support bundle) gets them. No dumps, and no ptrace attach
// by other processes of the same user.
void forbid_core_dumps() {
  const rlimit none{0, 0};
  if (::setrlimit(RLIMIT_CORE, &none) != 0 || ::prctl(PR_SET_DUMPABLE, 0) != 0) {
    log(LogLevel::kWarn, "could not switch core dumps off");
  }
}

// [backends.NAME] of the config file, as the plugin host takes it.
std::map<std::string, BackendSettings> backend_settings(
    const std::map<std::string, BackendConfig>& configs) {
  std::map<std::string, BackendSettings> out;
  for (const auto& [name, c] : configs) {
    BackendSettings& b = out[name];
    if (c.isolation == "inline") b.isolation = Isolation::kInline;
    if (c.isolation == "process") b.isolation = Isolation::kProcess;
    b.sandbox.memory_bytes = static_cast<uint64_t>(c.memory_mb) << 20;
    b.sandbox.cpu_seconds = static_cast<uint64_t>(c.cpu_seconds);
    b.sandbox.open_files = static_cast<uint64_t>(c.open_files);
    b.sandbox.allow_network = c.allow_network;
    b.sandbox.allow_exec = c.allow_exec;
    b.batch_timeout = std::chrono::milliseconds(c.batch_timeout_ms);
    b.restarts.max_failures = static_cast<int>(c.max_restarts);
    b.restarts.window = std::chrono::seconds(c.restart_window_seconds);
  }
  return out;
}

// [backends.NAME] keys that go to the plugin itself, as its backend config at start.
BackendManager::ConfigFor backend_init_configs(
    const std::map<std::string, BackendConfig>& configs) {
  std::map<std::string, std::string> json;
  for (const auto& [name, c] : configs) json[name] = plugin_config_json(c);
  return [json](const std::string& name) {
    const auto found = json.find(name);
    return found == json.end() ? std::string("{}") : found->second;
  };
}

int serve(const DataDir& dir, ServeSettings settings) {
  forbid_core_dumps();
  if (!dir.initialised()) {
    throw std::runtime_error("data dir " + dir.root.string() +
                             " is not initialised; run modelgate init");
  }
  refuse_during_rotation(dir);
  if (settings.plugin_dirs.empty()) settings.plugin_dirs.push_back(MG_DEFAULT_PLUGIN_DIR);
  // Backends parallelise with their own per-instance threads; an OpenMP runtime a backend
  // pulls in (oneDNN's) must not add its own team on top. Read when the runtime loads,
  // so it is set before any plugin is opened; an operator's explicit value wins.
  ::setenv("OMP_NUM_THREADS", "1", 0);
  // glibc's default (a dynamic mmap threshold from 128 KiB, trimming the heap at 128 KiB)
  // made request-sized buffers cycle through mmap/munmap and page faults: a quarter of the
  // small-model req/s on this VM (bench/RESULTS.md). Buffers under 32 MiB stay in the heap,
  // which keeps up to 64 MiB free before returning memory; big model buffers still come
  // from mmap and go back at once.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  // Connections are file descriptors: take the hard limit the system allows (as nginx's
  // worker_rlimit_nofile does); max_connections is then kept below it.
  if (rlimit limit{}; ::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  mg::registry::Registry registry(dir.registry_options());
  BackendManager backends(backend_init_configs(settings.backends));
  backends.set_settings(backend_settings(settings.backends));
  // Plugins run out of process are opened at start only in a worker (a crash in their
  // initialisation is theirs, not the server's).
  backends.set_worker_binary(default_worker_binary());
  backends.discover(
      std::vector<fs::path>(settings.plugin_dirs.begin(), settings.plugin_dirs.end()));
  ModelRepository models(registry, backends);
  models.set_require_signature(settings.require_signature);
  RegistryServerState state(registry, backends);
  Metrics metrics(kVersion, state, settings.metrics_tenant_label);
  models.set_metrics(&metrics);  // before any load: batch metrics of every version
  state.set_worker_probe([&models] { return models.workers(); });
  state.set_shadow_probe([&models] { return models.shadows(); });
  models.restore();
  Authenticator auth(registry, KeyCrypto::from_file(dir.master_key()));
  std::unique_ptr<AccessLog> access_log = AccessLog::open(settings.access_log);
  // Cluster mode: one pipelined Redis connection for the limits and the usage counters.
  std::shared_ptr<RedisPipeline> redis;
  if (!settings.redis.empty()) {
    redis = std::make_shared<RedisPipeline>(parse_redis_url(settings.redis));
  }
  // Outlives the server: its destructor flushes usage (SIGTERM).
  std::shared_ptr<RedisUsage> shared_usage = redis ? std::make_shared<RedisUsage>(redis) : nullptr;
  Limits limits(registry, {}, std::chrono::seconds(1), shared_usage);
  if (redis) {
    limits.shared = std::make_shared<RedisLimits>(redis, shared_usage->live_key());
    limits.open_on_redis_failure = settings.limits_on_redis_failure == "open";
    // The probe holds the limiter: the metrics listener may scrape until it is gone.
    state.set_redis_probe([shared = limits.shared] { return shared->up(); });
    log(LogLevel::kInfo, "rate limits, quotas, nonces and usage shared through " + settings.redis +
                             " (on failure: " + settings.limits_on_redis_failure + ")");
  }
  Services services{registry, models,   backends, auth,
                    kVersion, &metrics, &limits,  access_log.get()};
  services.max_decoded_body = settings.limits.body_limit;
  services.max_json_bytes = settings.json_limit;
  services.inference_timeout = settings.inference_timeout;
  if (access_log) access_log->on_drop([&metrics] { metrics.count_access_log_drop(); });
  // Canaries whose model config asks for it are rolled back when their error rate passes
  // the threshold (docs/evaluation.md "Automatic rollback").
  CanaryGuard canary_guard(services);
  canary_guard.start(std::chrono::seconds(1));
  auto [metrics_host, metrics_port] = split_host_port(settings.metrics_listen);
  metrics_port = metrics.listen(metrics_host, metrics_port);
  auto [host, port] = split_host_port(settings.listen);
  HttpsServerOptions options = settings.limits;
  options.host = host;
  options.port = port;
  options.certificate =
      settings.certificate.empty() ? dir.certificate() : fs::path(settings.certificate);
  options.private_key =
      settings.private_key.empty() ? dir.private_key() : fs::path(settings.private_key);
  options.io_threads = settings.threads;
  // Handler threads wait while their request sits in a model's batch queue: enough of
  // them let concurrent requests meet there.
  options.handler_threads = std::max(32, 4 * settings.threads);
  // One tenant may hold 3/4 of them while others wait for theirs (unless configured).
  limits.concurrency.set_cap(settings.tenant_concurrency >= 0
                                 ? static_cast<std::size_t>(settings.tenant_concurrency)
                                 : static_cast<std::size_t>(options.handler_threads) * 3 / 4);
  // Admin requests (revoking a key during a flood) run on their own threads, never shed.
  options.is_control = [](const HttpRequest& request) {
    return request.target.starts_with("/admin/");
  };
  options.stop_on_signals = true;
  options.on_shed = [&metrics] { metrics.count_shed(); };
  options.on_refusal = [&metrics](const char* code) { metrics.count_refusal(code); };
  HttpsServer server(
      options, [&services](const HttpRequest& r) { return route(r, services); },
      [&services](const HttpRequest& head) { return route_stream(head, services); },
      [&services](const HttpRequest& request) { return runs_inline(request, services); },
      [&services](HttpRequest request, std::function<void(HttpResponse)> respond) {
        route_async(std::move(request), services, std::move(respond));
      });
  // gRPC: the same router behind its own listener; stopped before the HTTPS server's
  // run() returns, so both drain together on SIGTERM.
  std::unique_ptr<GrpcServer> grpc;
  if (!settings.grpc_listen.empty()) {
    auto [grpc_host, grpc_port] = split_host_port(settings.grpc_listen);
    GrpcServerOptions grpc_options;
    grpc_options.host = grpc_host;
    grpc_options.port = grpc_port;
    grpc_options.certificate = options.certificate;
    grpc_options.private_key = options.private_key;
    grpc_options.max_message_bytes = settings.grpc_message_limit;
    grpc_options.io_threads = options.io_threads;
    grpc_options.handler_threads = options.handler_threads;
    grpc_options.max_queued_calls = options.max_queued_requests;
    grpc_options.drain_timeout = options.drain_timeout;
    grpc_options.write_timeout = options.write_timeout;
    grpc_options.max_connections_per_address = options.max_connections_per_address;
    grpc_options.on_shed = [&metrics] {
      metrics.count_shed();
      metrics.count_refusal("overloaded");
    };
    grpc_options.on_refusal = [&metrics](const std::string& code) { metrics.count_refusal(code); };
    grpc_options.runs_inline = [&services](const HttpRequest& request) {
      return answers_at_once(request, services);
    };
    grpc = std::make_unique<GrpcServer>(
        grpc_options, [&services](const HttpRequest& r) { return route(r, services); });
    std::cout << "grpc on " << grpc_host << ":" << grpc->port() << "\n";
  }
  std::cout << "metrics on http://" << metrics_host << ":" << metrics_port << "\n"
            << "listening on https://" << host << ":" << server.port() << std::endl;
  server.run();
  if (grpc) grpc->stop();
  log(LogLevel::kInfo, "stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ModelGate model server"};
  app.set_version_flag("--version", kVersion);
  app.require_subcommand(1);
  std::string data_dir;
  bool json = false;
  std::string postgres, master_key;
  // Cluster mode flags, on every verb that opens the registry.
  auto cluster_options = [&](CLI::App* command) {
    command->add_option("--postgres", postgres,
                        "PostgreSQL URL of the cluster's registry (cluster mode)");
    command->add_option("--master-key", master_key,
                        "master key file (default DATA_DIR/master.key; the same on every replica)");
  };
  auto* init_cmd =
      app.add_subcommand("init", "create a data dir: registry, TLS certificate, master key");
  init_cmd->add_option("--data-dir", data_dir, "data directory")->required();
  init_cmd->add_flag("--json", json, "print one JSON document");
  cluster_options(init_cmd);

  std::string name, file, backend = "cpu", config = "{}";
  bool promote = false;
  auto* import_cmd =
      app.add_subcommand("import", "register a model version offline (server stopped)");
  import_cmd->add_option("--data-dir", data_dir, "data directory")->required();
  import_cmd->add_option("name", name, "model name")->required();
  import_cmd->add_option("file", file, "model file")->required()->check(CLI::ExistingFile);
  import_cmd->add_option("--backend", backend, "backend name");
  import_cmd->add_option("--config", config, "model config JSON (new models only)");
  std::vector<std::string> files;
  import_cmd->add_option("--file", files,
                         "a file the version carries, NAME=PATH (repeatable): "
                         "vocabulary=vocab.txt, labels=labels.txt");
  import_cmd->add_flag("--promote", promote, "point the default alias at the new version");
  cluster_options(import_cmd);

  ServeSettings settings;
  std::string config_file, listen, metrics_listen, grpc_listen;
  std::vector<std::string> plugin_dirs;
  auto* rotate_cmd = app.add_subcommand(
      "rotate-master-key", "re-encrypt artifacts and re-seal keys under a new master key");
  rotate_cmd->add_option("--data-dir", data_dir, "data directory")->required();

  auto* migrate_cmd =
      app.add_subcommand("migrate-to-postgres",
                         "copy a data dir's registry into an empty PostgreSQL (server stopped)");
  migrate_cmd->add_option("--data-dir", data_dir, "data directory")->required();
  migrate_cmd->add_option("--postgres", postgres, "PostgreSQL URL of the new cluster registry")
      ->required();

  auto* serve_cmd = app.add_subcommand("serve", "serve the API over HTTPS");
  serve_cmd->add_option("--data-dir", data_dir, "data directory")->required();
  serve_cmd->add_option("--config", config_file, "TOML config file")->check(CLI::ExistingFile);
  serve_cmd->add_option("--listen", listen, "HOST:PORT for the API (port 0: any free port)");
  serve_cmd->add_option("--metrics-listen", metrics_listen,
                        "HOST:PORT for Prometheus metrics over plain HTTP (port 0: any)");
  serve_cmd->add_option(
      "--grpc-listen", grpc_listen,
      "HOST:PORT for the KServe v2 gRPC API over TLS (port 0: any; default: none)");
  serve_cmd->add_option("--plugin-dir", plugin_dirs, "plugin directory (repeatable)");
  cluster_options(serve_cmd);
  std::string redis;
  serve_cmd->add_option("--redis", redis,
                        "Redis URL (redis://host:port/db): limits shared by the replicas");
  CLI11_PARSE(app, argc, argv);

  try {
    if (!config_file.empty()) apply_config_file(config_file, settings);
    DataDir dir{data_dir, postgres.empty() ? settings.postgres : postgres, master_key};
    if (init_cmd->parsed()) return init(dir, json);
    if (import_cmd->parsed()) return import_model(dir, name, file, backend, config, files, promote);
    if (migrate_cmd->parsed()) {
      refuse_during_rotation(dir);
      const auto copied = mg::registry::copy_to_postgres(dir.root, postgres);
      std::cout << "copied " << copied.models << " models, " << copied.versions << " versions, "
                << copied.artifacts << " artifacts, " << copied.tenants << " tenants, "
                << copied.keys << " keys, " << copied.audit_entries
                << " audit entries\nstart the replicas with --postgres URL --master-key "
                << dir.master_key().string() << " (the same key file on every replica)\n";
      return 0;
    }
    if (rotate_cmd->parsed()) {
      if (dir.clustered()) throw std::runtime_error("rotate-master-key works on a data dir only");
      const RotationReport done = rotate_master_key(dir);
      std::cout << "master key rotated: " << done.artifacts << " artifacts re-encrypted, "
                << done.keys << " API keys re-sealed\n";
      return 0;
    }
    if (!listen.empty()) settings.listen = listen;
    if (!redis.empty()) settings.redis = redis;
    if (!metrics_listen.empty()) settings.metrics_listen = metrics_listen;
    if (!grpc_listen.empty()) settings.grpc_listen = grpc_listen;
    if (!plugin_dirs.empty()) settings.plugin_dirs = plugin_dirs;
    return serve(dir, settings);
  } catch (const std::exception& e) {
    std::cerr << "modelgate: " << e.what() << "\n";
    return 1;
  }
}
