# Shared by the cluster end-to-end tests (source it after tests/e2e_lib.sh): engines and
# replicas as processes on 127.0.0.1, stopped by PID when the test exits.
# Needs: modelgate, mgctl, plugins, work; cluster_dir (this directory).

replica_pids=()
stop_cluster() {
  for p in "${replica_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${replica_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  "$cluster_dir/nginx_balancer.sh" stop "$work/nginx" >/dev/null 2>&1 || true
  "$cluster_dir/redis_server.sh" stop "$work/redis" >/dev/null 2>&1 || true
  "$cluster_dir/postgres_server.sh" stop "$work/pg" >/dev/null 2>&1 || true
}
trap 'stop_cluster; cleanup' EXIT

# start_engines [redis]: a PostgreSQL (url) and, when asked, a Redis (redis_url).
start_engines() {
  "$cluster_dir/postgres_server.sh" start "$work/pg" >/dev/null
  url=$(cat "$work/pg/url")
  if [[ ${1:-} == redis ]]; then
    "$cluster_dir/redis_server.sh" start "$work/redis" >/dev/null
    redis_url=$(cat "$work/redis/url")
  fi
  master=$work/master.key  # one master key file for every replica, as a mounted Secret
}

# init_replicas NAME…: init on each (the first issues the admin key), one certificate for
# all (the cluster's name). Sets admin_key, MG_CACERT, MG_KEY.
init_replicas() {
  local first=$1 name
  for name in "$@"; do
    "$modelgate" init --data-dir "$work/$name" --postgres "$url" --master-key "$master" >"$work/init-$name.out"
    if [[ $name != "$first" ]]; then
      cp "$work/$first/tls/cert.pem" "$work/$first/tls/key.pem" "$work/$name/tls/"
    fi
  done
  admin_key=$(cat "$work/$first/admin.key")
  export MG_CACERT=$work/$first/tls/cert.pem MG_KEY=$admin_key
}

# start_replica NAME [serve flags…]: sets port_NAME, metrics_NAME and pid_NAME.
start_replica() {
  local name=$1 log=$work/$1.log
  shift
  "$modelgate" serve --data-dir "$work/$name" --postgres "$url" --master-key "$master" \
    --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --plugin-dir "$plugins" \
    --config <(echo 'access_log = "off"') "$@" >"$log" 2>&1 &
  local p=$!
  replica_pids+=("$p")
  wait_until 30 grep -qs 'listening on https://' "$log" || { cat "$log"; fail "replica $name did not start"; }
  printf -v "port_$name" '%s' "$(sed -n 's/.*listening on https:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$log")"
  printf -v "metrics_$name" '%s' "$(sed -n 's/.*metrics on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$log")"
  printf -v "pid_$name" '%s' "$p"
}

# dependency_up REPLICA DEPENDENCY: the replica's modelgate_dependency_up gauge (0 or 1).
dependency_up() {
  curl -sS "http://127.0.0.1:$(eval echo "\$metrics_$1")/metrics" |
    awk -v d="dependency=\"$2\"" 'index($0, "modelgate_dependency_up{") == 1 && index($0, d) { print $2 }'
}

port_of() { eval echo "\$port_$1"; }
# on REPLICA mgctl-args…: mgctl against one replica.
on() {
  local replica=$1
  shift
  MG_SERVER=https://localhost:$(port_of "$replica") "$mgctl" "$@"
}
# status_of REPLICA KEY: the HTTP status of one inference (request: $request).
status_of() {
  curl -sS --cacert "$MG_CACERT" -H "Authorization: Bearer $2" --data @"$request" -o /dev/null \
    -w '%{http_code}' "https://localhost:$(port_of "$1")/v2/models/fashion-mlp/infer"
}

# start_balanced_cluster: PostgreSQL, Redis, replicas a and b sharing them, nginx in front
# (lb: its URL), and fashion-mlp uploaded and promoted through A and served by B.
# Needs request (an inference body).
start_balanced_cluster() {
  start_engines redis
  init_replicas a b
  start_replica a --redis "$redis_url"
  start_replica b --redis "$redis_url"
  "$cluster_dir/nginx_balancer.sh" start "$work/nginx" "$work/a/tls/cert.pem" "$work/a/tls/key.pem" \
    "$port_a" "$port_b"
  lb=https://localhost:$(cat "$work/nginx/port")
  infer_path=/v2/models/fashion-mlp/infer
  on a model create fashion-mlp --backend cpu --max-batch 8 >/dev/null
  on a model upload fashion-mlp "$examples/models/fashion-mlp.onnx" --promote >/dev/null
  wait_until 10 bash -c "[[ \$(curl -sS --cacert '$MG_CACERT' -H 'Authorization: Bearer $admin_key' --data @'$request' -o /dev/null -w '%{http_code}' 'https://localhost:$port_b$infer_path') == 200 ]]" ||
    fail "B does not serve the model"
}

# wait_usage_flushed: until Redis holds no usage counters, live or pending (everything
# counted is in the PostgreSQL ledger; a flush lock a dead replica held expires in 10 s).
wait_usage_flushed() {
  for _ in $(seq 1 60); do
    [[ $(redis-cli -u "$redis_url" exists 'mg:{usage}:live' 'mg:{usage}:pending') == 0 ]] && return 0
    sleep 0.5
  done
  fail "usage counters still in Redis after 30 s"
}

# ledger_sum REPLICA TENANT EXPRESSION: the sum over the tenant's ledger rows of a Python
# expression of a row r (r["requests"], r["items"], r["errors"]).
ledger_sum() {
  on "$1" --json usage --tenant "$2" |
    python3 -c 'import json,sys; print(sum(eval(sys.argv[1]) for r in json.load(sys.stdin)["usage"]))' "$3"
}
