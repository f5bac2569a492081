#!/usr/bin/env bash
# Validates deploy/ as far as this machine can without Docker images or a cluster:
#   every YAML and JSON file parses; the Kubernetes manifests have the kinds and probes
#   the deployment needs; promtool accepts the scrape config and the alert rules and the
#   alerts' unit tests pass; the systemd unit passes `systemd-analyze verify` and scores
#   OK on `systemd-analyze security`; the Dockerfile's runtime packages provide every
#   shared library the built binaries load, and every path it copies exists.
# usage: deploy_files_test.sh SOURCE_DIR MODELGATE MGCTL CPU_PLUGIN
set -euo pipefail
src=$1 modelgate=$2 mgctl=$3 plugin=$4
deploy=$src/deploy
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok   $*"; }

# YAML and JSON parse; the manifests' shape.
/usr/bin/python3 - "$deploy" "$work" <<'PY' || fail "YAML/JSON validation"
import json, pathlib, sys, yaml
deploy = pathlib.Path(sys.argv[1])
for path in sorted(deploy.rglob("*.yml")) + sorted(deploy.rglob("*.yaml")):
    list(yaml.safe_load_all(path.read_text()))
    print("ok   parses:", path.relative_to(deploy))
for path in sorted(deploy.rglob("*.json")):
    json.loads(path.read_text())
    print("ok   parses:", path.relative_to(deploy))
k8s = {}
for path in (deploy / "k8s").glob("*.yaml"):
    for doc in yaml.safe_load_all(path.read_text()):
        k8s[doc["kind"]] = doc
want = {"Deployment", "Service", "ConfigMap", "Secret", "PersistentVolumeClaim",
        "ServiceMonitor", "Kustomization"}
assert want <= k8s.keys(), f"k8s kinds missing: {want - k8s.keys()}"
listed = set(k8s["Kustomization"]["resources"])
assert listed == {p.name for p in (deploy / "k8s").glob("*.yaml")} - {"kustomization.yaml"}, listed
pod = k8s["Deployment"]["spec"]["template"]["spec"]
c = pod["containers"][0]
assert c["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
assert c["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
assert c["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
assert c["securityContext"]["allowPrivilegeEscalation"] is False
assert c["securityContext"]["readOnlyRootFilesystem"] is True
assert pod["securityContext"]["runAsNonRoot"] is True
assert "limits" in c["resources"] and "requests" in c["resources"]
ports = {p["name"]: p["containerPort"] for p in c["ports"]}
config = k8s["ConfigMap"]["data"]["modelgate.toml"]
assert f'metrics_listen = "0.0.0.0:{ports["metrics"]}"' in config, "metrics port mismatch"
assert f'listen = "0.0.0.0:{ports["https"]}"' in config, "API port mismatch"
mon = k8s["ServiceMonitor"]["spec"]["endpoints"][0]["port"]
assert mon in {p["name"] for p in k8s["Service"]["spec"]["ports"]}, "ServiceMonitor port"
print("ok   k8s manifests: kinds, probes, security context, ports agree")
cluster = {}
for path in (deploy / "k8s-cluster").glob("*.yaml"):
    for doc in yaml.safe_load_all(path.read_text()):
        cluster.setdefault(doc["kind"], []).append(doc)
want = {"Deployment", "Service", "ConfigMap", "Secret", "PodDisruptionBudget",
        "HorizontalPodAutoscaler", "Kustomization"}
assert want <= cluster.keys(), f"k8s-cluster kinds missing: {want - cluster.keys()}"
listed = set(cluster["Kustomization"][0]["resources"])
assert listed == {p.name for p in (deploy / "k8s-cluster").glob("*.yaml")} - {"kustomization.yaml"}, listed
deployment = cluster["Deployment"][0]
assert deployment["spec"]["replicas"] == 3
assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
pod = deployment["spec"]["template"]["spec"]
c = pod["containers"][0]
env = {e["name"]: e for e in c["env"]}
secrets = {s["metadata"]["name"]: s for s in cluster["Secret"]}
for name in ("MODELGATE_POSTGRES_URL", "MODELGATE_REDIS_URL"):
    ref = env[name]["valueFrom"]["secretKeyRef"]
    assert ref["key"] in secrets[ref["name"]]["stringData"], name
volumes = {v["name"]: v for v in pod["volumes"]}
assert "emptyDir" in volumes["cache"], "a replica's data dir is a cache"
assert volumes["master-key"]["secret"]["secretName"] in secrets
assert c["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
labels = deployment["spec"]["selector"]["matchLabels"]
assert cluster["PodDisruptionBudget"][0]["spec"]["selector"]["matchLabels"] == labels
assert cluster["PodDisruptionBudget"][0]["spec"]["minAvailable"] == 2
hpa = cluster["HorizontalPodAutoscaler"][0]["spec"]
assert hpa["scaleTargetRef"]["name"] == deployment["metadata"]["name"] and hpa["minReplicas"] == 3
(pathlib.Path(sys.argv[2]) / "cluster.toml").write_text(cluster["ConfigMap"][0]["data"]["modelgate.toml"])
print("ok   k8s-cluster manifests: 3 replicas, rolling update, PDB, HPA, Secrets wired")
compose = yaml.safe_load((deploy / "docker/compose.yml").read_text())
assert {"modelgate", "prometheus", "grafana"} <= compose["services"].keys()
profile = {n for n, svc in compose["services"].items() if "cluster" in svc.get("profiles", [])}
assert {"postgres", "redis", "modelgate-a", "modelgate-b", "lb"} <= profile, profile
for replica in ("modelgate-a", "modelgate-b"):
    assert "MODELGATE_POSTGRES_URL" in compose["services"][replica]["environment"]
    assert "MODELGATE_REDIS_URL" in compose["services"][replica]["environment"]
(pathlib.Path(sys.argv[2]) / "compose-cluster.toml").write_text(compose["configs"]["cluster_config"]["content"])
print("ok   compose services, cluster profile: postgres, redis, two replicas, nginx")
(pathlib.Path(sys.argv[2]) / "configmap.toml").write_text(k8s["ConfigMap"]["data"]["modelgate.toml"])
PY

# The shipped configs pass the server's own schema check: `serve` reads the config before
# the data dir, so on a missing data dir a valid config gets as far as "not initialised".
check_config() {  # check_config FILE EXPECTED_MESSAGE
  local out
  out=$("$modelgate" serve --data-dir "$work/none" --config "$1" 2>&1) && fail "serve started"
  [[ "$out" == *"$2"* ]] || fail "config $1: expected '$2', got: $out"
}
check_config "$deploy/modelgate.example.toml" "is not initialised"
check_config "$work/configmap.toml" "is not initialised"
check_config "$work/cluster.toml" "is not initialised"
check_config "$work/compose-cluster.toml" "is not initialised"
ok "modelgate.example.toml, the ConfigMaps' and compose's configs pass the server's schema"
printf '[limits]\nread_timeout = 5\n' >"$work/typo.toml"
check_config "$work/typo.toml" "unknown key 'limits.read_timeout'"
printf 'threads = "2"\n' >"$work/type.toml"
check_config "$work/type.toml" "'threads' must be an integer from 1 to 1024"
ok "a misspelt key or a wrongly typed value is refused by name"

promtool check config "$deploy/prometheus/prometheus.yml" >/dev/null || fail "promtool check config"
ok "promtool check config"
promtool check rules "$deploy/prometheus/alerts.yml" >/dev/null || fail "promtool check rules"
ok "promtool check rules"
promtool test rules "$deploy/prometheus/alerts_test.yml" >/dev/null || fail "promtool test rules"
ok "promtool test rules (alert unit tests)"

# systemd: verify the unit as installed, with ExecStart pointing at the built binary.
sed "s#/usr/local/bin/modelgate#$modelgate#g" "$deploy/systemd/modelgate.service" \
  >"$work/modelgate.service"
out=$(systemd-analyze verify "$work/modelgate.service" 2>&1) || fail "systemd-analyze verify: $out"
[[ -z "$out" ]] || fail "systemd-analyze verify warned: $out"
ok "systemd-analyze verify"
score=$(systemd-analyze security --offline=yes "$work/modelgate.service" 2>&1 |
  sed -n 's/.*Overall exposure level for modelgate.service: \([0-9.]*\).*/\1/p')
[[ -n "$score" ]] || fail "no exposure score"
awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || fail "systemd exposure $score > 2.0"
ok "systemd-analyze security exposure $score (<= 2.0)"

# Dockerfile: the runtime stage names the package of every library the binaries link
# directly (NEEDED); apt brings those packages' own dependencies.
packages=$(sed -n '/^FROM debian:12-slim/,$p' "$deploy/docker/Dockerfile" |
  sed -n '/apt-get install/,/rm -rf/p' | tr ' \\' '\n\n' | grep -E '^lib|^zlib|^ocl' | sort -u)
[[ -n "$packages" ]] || fail "no runtime packages found in the Dockerfile"
missing=()
while read -r lib; do
  owner=$(dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib" 2>/dev/null || true)
  owner=${owner%%:*}
  [[ -z "$owner" || $owner == libc6 || $owner == libstdc++6 || $owner == libgcc-s1 ]] && continue
  grep -qx "$owner" <<<"$packages" || missing+=("$owner ($lib)")
done < <(for f in "$modelgate" "$mgctl" "$plugin"; do
  needed=$(objdump -p "$f" | awk '$1 == "NEEDED" { print $2 }')
  ldd "$f" | awk -v needed="$needed" 'BEGIN { n = split(needed, list, "\n"); for (i = 1; i <= n; i++) want[list[i]] = 1 }
    $3 ~ /^\// && ($1 in want) { print $3 }'
done | sort -u)
((${#missing[@]} == 0)) || fail "Dockerfile runtime stage lacks: ${missing[*]}"
for p in $packages; do
  apt-cache show "$p" >/dev/null 2>&1 || fail "no Debian package $p"
done
ok "Dockerfile runtime packages cover every linked library ($(wc -w <<<"$packages") packages)"
while read -r from; do
  # shellcheck disable=SC2086
  compgen -G "$src/$from" >/dev/null || fail "Dockerfile copies a missing path: $from"
done < <(grep -E '^COPY [^-]' "$deploy/docker/Dockerfile" | awk '{ print $2 }')
ok "Dockerfile COPY sources exist"
sh -n "$deploy/docker/entrypoint.sh" || fail "entrypoint syntax"
[[ -x "$deploy/docker/entrypoint.sh" ]] || fail "entrypoint not executable"
ok "entrypoint"
echo "deploy files: all checks passed"
