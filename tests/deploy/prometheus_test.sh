#!/usr/bin/env bash
# A real Prometheus (Debian's) scraping a real ModelGate, both configured from deploy/:
#   the server starts through the container entrypoint (deploy/docker/entrypoint.sh) with
#   the ConfigMap's config and a master key "secret", seeding the three models; Prometheus
#   runs deploy/prometheus/prometheus.yml (target and interval pointed at this test) with
#   its alert rules. After known traffic — successes, bad requests, bad keys, rate-limited
#   and quota-refused requests — Prometheus's HTTP API must show up == 1, counters equal to
#   what was sent, non-zero and ordered latency quantiles, the models' states, every alert
#   rule evaluated without error, and every Grafana and alert query valid and naming only
#   metrics the server exports. `promtool check metrics` passes on a real scrape.
# usage: prometheus_test.sh SOURCE_DIR MODELGATE MGCTL PLUGIN_DIR
set -euo pipefail
src=$1 modelgate=$2 mgctl=$3 plugins=$4
deploy=$src/deploy
# shellcheck source=../e2e_lib.sh
source "$src/tests/e2e_lib.sh"
prom_pid=
trap '[[ -n "$prom_pid" ]] && kill -KILL "$prom_pid" 2>/dev/null; cleanup' EXIT
py() { /usr/bin/python3 "$@"; }

# --- ModelGate, started the way the container starts it ---------------------------------
data=$work/data
openssl rand -hex 32 >"$work/master.key.secret"
py -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["data"]["modelgate.toml"])' \
  "$deploy/k8s/configmap.yaml" >"$work/modelgate.toml"
PATH=$(dirname "$modelgate"):$PATH MODELGATE_DATA_DIR=$data \
  MODELGATE_MASTER_KEY_FILE=$work/master.key.secret MODELGATE_SEED_MODELS=1 \
  MODELGATE_SEED_DIR=$src/examples/models \
  "$deploy/docker/entrypoint.sh" --config "$work/modelgate.toml" --listen 127.0.0.1:0 \
  --metrics-listen 127.0.0.1:0 --plugin-dir "$plugins" >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do  # up to 60 s: the first start imports three models
  grep -q 'listening on https://' "$work/serve.log" && break
  kill -0 "$pid" 2>/dev/null || fail "server exited during start"
  sleep 0.1
done
port=$(sed -n 's/.*listening on https:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$work/serve.log")
metrics_port=$(sed -n 's/.*metrics on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$work/serve.log")
[[ -n "$port" && -n "$metrics_port" ]] || fail "no listening lines"
[[ $(cat "$data/master.key") == $(cat "$work/master.key.secret") ]] ||
  fail "the data dir's master key is not the secret's"
[[ $(stat -c %a "$data/master.key") == 600 ]] || fail "master key mode"
echo "ok   entrypoint: master key from the secret, seeds imported, serving"
admin_key=$(cat "$data/admin.key")
[[ $admin_key == mg_* ]] || fail "no admin key in $data/admin.key"
# The container's stdout is a kept log: the key must not be in it.
[[ "$(cat "$work/serve.log")" != *"$admin_key"* ]] || fail "the admin key is in the container log"
export MG_SERVER=https://localhost:$port MG_CACERT=$data/tls/cert.pem MG_KEY=$admin_key

# --- Prometheus, from deploy/prometheus with this test's target and a 1 s interval --------
mkdir -p "$work/prometheus"
cp "$deploy/prometheus/alerts.yml" "$work/prometheus/"
sed -e "s/localhost:9464/127.0.0.1:$metrics_port/" -e 's/_interval: 15s/_interval: 1s/' \
  "$deploy/prometheus/prometheus.yml" >"$work/prometheus/prometheus.yml"
grep -q "127.0.0.1:$metrics_port" "$work/prometheus/prometheus.yml" || fail "target not rewritten"
prom_port=$(py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
prometheus --config.file="$work/prometheus/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$prom_port" >"$work/prometheus.log" 2>&1 &
prom_pid=$!
api=http://127.0.0.1:$prom_port/api/v1
# value EXPR: the first sample's value of an instant query ("none" when empty; fails on
# a query error so a broken expression never passes as "no data").
value() {
  curl -sS --get --data-urlencode "query=$1" "$api/query" | py -c '
import json, sys
r = json.load(sys.stdin)
if r["status"] != "success": sys.exit("query error: " + r.get("error", "?"))
res = r["data"]["result"]
print(res[0]["value"][1] if res else "none")'
}
wait_for() {  # wait_for NAME EXPR WANT: polls up to 30 s for the query to return WANT
  local got=
  for _ in $(seq 1 60); do
    got=$(value "$2" 2>&1) || true
    [[ "$got" == "$3" ]] && { echo "ok   $1 ($2 = $3)"; return; }
    sleep 0.5
  done
  sed 's/^/  prometheus: /' "$work/prometheus.log" | tail -20
  fail "$1: $2 = $got, expected $3"
}
wait_for "Prometheus scrapes the server" 'up{job="modelgate"}' 1

# --- Known traffic -----------------------------------------------------------------------
request=$src/examples/requests/fashion-mlp.json
c() { curl -sS -o /dev/null -w '%{http_code}' --cacert "$data/tls/cert.pem" "$@"; }
infer=$MG_SERVER/v2/models/fashion-mlp/infer
for i in $(seq 1 40); do
  [[ $(c -H "Authorization: Bearer $admin_key" --data @"$request" "$infer") == 200 ]] ||
    fail "inference $i"
done
for _ in 1 2 3 4 5; do
  [[ $(c -H "Authorization: Bearer $admin_key" --data '{"inputs": []}' "$infer") == 400 ]] ||
    fail "bad request not 400"
done
for _ in 1 2 3; do
  [[ $(c -H "Authorization: Bearer $(wrong_key "$admin_key")" --data @"$request" "$infer") == 401 ]] ||
    fail "wrong key not 401"
done
"$mgctl" tenant create acme --quota 2/day >/dev/null
acme=$("$mgctl" --json key create --tenant acme --scope infer | sed -n 's/.*"key":"\([^"]*\)".*/\1/p')
slow=$("$mgctl" --json key create --tenant admin --scope infer --rate 0.1/s --burst 1 |
  sed -n 's/.*"key":"\([^"]*\)".*/\1/p')
declare -A seen=()
for _ in 1 2 3 4; do
  s=$(c -H "Authorization: Bearer $acme" --data @"$request" "$infer")
  seen[acme_$s]=$((${seen[acme_$s]:-0} + 1))
  s=$(c -H "Authorization: Bearer $slow" --data @"$request" "$infer")
  seen[slow_$s]=$((${seen[slow_$s]:-0} + 1))
done
[[ ${seen[acme_200]:-0} == 2 && ${seen[acme_429]:-0} == 2 ]] || fail "quota 2/day: ${!seen[*]}"
[[ ${seen[slow_200]:-0} == 1 && ${seen[slow_429]:-0} == 3 ]] || fail "rate 0.1/s: ${!seen[*]}"
echo "ok   traffic sent: 43 ok, 5 bad_request, 3 invalid_key, 2 quota_exceeded, 3 rate_limited"

# --- What Prometheus saw -----------------------------------------------------------------
M='model="fashion-mlp"'
wait_for "ok requests counted" "sum(modelgate_inference_requests_total{$M,outcome=\"ok\"})" 43
wait_for "bad requests counted" "sum(modelgate_inference_requests_total{$M,outcome=\"bad_request\"})" 5
wait_for "rows counted" "sum(modelgate_inference_items_total{$M})" 43
wait_for "durations observed" "sum(modelgate_request_duration_seconds_count{$M})" 48
wait_for "batches observed" "sum(modelgate_batch_size_sum{$M})" 43
wait_for "auth failures" 'sum(modelgate_auth_failures_total{reason="invalid_key"})' 3
wait_for "quota refusals by tenant" \
  'sum(modelgate_rate_limited_total{tenant="acme",reason="quota_exceeded"})' 2
wait_for "rate limiting by tenant" \
  'sum(modelgate_rate_limited_total{tenant="admin",reason="rate_limited"})' 3
wait_for "tenant requests (admitted and refused)" 'sum(modelgate_tenant_requests_total{tenant="acme"})' 4
wait_for "three seed versions ready" 'count(modelgate_model_state{state="ready"})' 3
wait_for "cpu backend" 'count(modelgate_backend_info{backend="cpu",state="ready"})' 1
wait_for "build info" 'count(modelgate_build_info)' 1
wait_for "nothing in flight" 'sum(modelgate_inflight_requests)' 0
quantiles=()
for q in 0.5 0.99; do
  quantiles+=("$(value "histogram_quantile($q, sum by (le) (rate(modelgate_request_duration_seconds_bucket{$M}[1m])))")")
done
py - "${quantiles[@]}" <<'PY' || fail "latency quantiles ${quantiles[*]}"
import math, sys
p50, p99 = map(float, sys.argv[1:])
assert 0 < p50 <= p99 < 10 and math.isfinite(p99), (p50, p99)
PY
echo "ok   latency p50 ${quantiles[0]} s <= p99 ${quantiles[1]} s, both non-zero"
for name in process_resident_memory_bytes process_open_fds process_cpu_seconds_total \
  process_start_time_seconds; do
  v=$(value "$name{job=\"modelgate\"}")
  py -c 'import sys; assert float(sys.argv[1]) > 0' "$v" || fail "$name = $v"
done
echo "ok   process metrics non-zero"

# Alert rules: all loaded and evaluated without error; on this traffic only the quota
# alert may fire, and it must.
check_rules() {
  py - "$(curl -sS "$api/rules")" <<'PY'
import json, sys
rules = [r for g in json.loads(sys.argv[1])["data"]["groups"] for r in g["rules"]]
bad = [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"]
firing = sorted(r["name"] for r in rules if r["state"] != "inactive")
if len(rules) != 8 or bad or firing != ["ModelGateQuotaExhausted"]:
    sys.exit(f"{len(rules)} rules, unhealthy {bad}, active {firing}")
PY
}
for _ in $(seq 1 40); do check_rules 2>/dev/null && break; sleep 0.5; done
check_rules || fail "alert rules"
echo "ok   8 alert rules evaluated and healthy; ModelGateQuotaExhausted fired for acme"

# Every dashboard and alert query runs without error and names only exported metrics.
names=$(curl -sS "$api/label/__name__/values")
py - "$deploy" "$names" "$api" <<'PY' || fail "dashboard/alert queries"
import json, pathlib, re, sys, urllib.parse, urllib.request, yaml
deploy, api = pathlib.Path(sys.argv[1]), sys.argv[3]
# Exported only in cluster mode (this server is embedded; tests/cluster/ scrape it there),
# and the worker families only once a model runs out of process or a worker died
# (tests/reliability/worker_faults_test.sh scrapes them).
exported = set(json.loads(sys.argv[2])["data"]) | {
    "modelgate_dependency_up", "modelgate_worker_deaths_total", "modelgate_worker_restarts_total",
    "modelgate_worker_resident_bytes"}
dash = json.loads((deploy / "grafana/dashboards/modelgate.json").read_text())
exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
exprs += [r["expr"] for g in yaml.safe_load((deploy / "prometheus/alerts.yml").read_text())["groups"]
          for r in g["rules"]]
used = set()
for expr in exprs:
    query = expr.replace("$__rate_interval", "1m").replace("$model", ".*")
    url = api + "/query?" + urllib.parse.urlencode({"query": query})
    reply = json.load(urllib.request.urlopen(url))
    assert reply["status"] == "success", (expr, reply)
    for name in re.findall(r"\b((?:modelgate|process)_[a-z_]+|up)\b", expr):
        used.add(name)
        assert name in exported, f"{name} (in {expr!r}) is not exported"
print(f"ok   {len(exprs)} dashboard and alert queries valid; {len(used)} metric names, all exported")
PY

# promtool's linter on a real scrape.
curl -sS "http://127.0.0.1:$metrics_port/metrics" >"$work/scrape.txt"
out=$(promtool check metrics <"$work/scrape.txt" 2>&1) || fail "promtool check metrics: $out"
echo "ok   promtool check metrics ($(grep -c '^# TYPE' "$work/scrape.txt") families)"

kill -TERM "$prom_pid"
wait "$prom_pid" || true
prom_pid=
stop_modelgate
echo "prometheus integration: all checks passed"
