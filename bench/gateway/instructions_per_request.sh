#!/usr/bin/env bash
# Instructions the server executes per request, counted by valgrind's callgrind: the same
# for the same binary and inputs whatever else the machine does, so two builds compare
# exactly where wrk's requests/s move by ±15% between runs on a shared 2-core machine.
# The server runs under callgrind twice, answering N1 and then N2 requests over one
# keep-alive TLS connection (curl); the difference divided by N2 - N1 is one request's
# cost, start-up and shutdown cancelled out. Endpoints: MLP batch-1 JSON and binary, the
# health check, and as its reference nginx (one process) serving run.sh's static 200-byte
# answer over TLS with the same certificate: the health target's ratio without the noise.
# usage: bench/gateway/instructions_per_request.sh BUILD [N1] [N2]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=$1 n1=${2:-200} n2=${3:-1200}
# shellcheck source=work_dir.sh
source bench/gateway/work_dir.sh
install_missing valgrind nginx python3-numpy
/usr/bin/python3 bench/gateway/make_inputs.py "$work" examples >/dev/null
data=$work/data
out=$("$build/gateway/modelgate" init --data-dir "$data" --json)
key=$(cat "$data/admin.key" 2>/dev/null || sed -n 's/.*"admin_key":"\([^"]*\)".*/\1/p' <<<"$out")
"$build/gateway/modelgate" import --data-dir "$data" fashion-mlp examples/models/fashion-mlp.onnx \
  --config '{"max_batch_size": 64, "instances": 2}' --promote >/dev/null
printf 'access_log = "off"\nthreads = 1\n' >"$work/config.toml"

# under_callgrind LOG COMMAND…: starts COMMAND under callgrind (output $work/cg.out), its
# output in LOG; sets `pid` and adds it to `pids`, so that a failed run leaves no server.
under_callgrind() {
  local log=$1
  shift
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$@" >"$log" 2>&1 &
  pid=$!
  pids+=("$pid")
}

# start_server KIND: the process that answers KIND under callgrind; sets `pid` and `port`.
start_server() {
  if [[ $1 == nginx ]]; then
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    nginx_static_conf "$work/nginx.conf" "$port" "$data/tls/cert.pem" "$data/tls/key.pem" 1
    under_callgrind "$work/nginx.log" nginx -c "$work/nginx.conf" -g 'daemon off; master_process off;'
    for _ in $(seq 1 600); do
      curl -s --cacert "$data/tls/cert.pem" "https://127.0.0.1:$port/" >/dev/null && return
      sleep 0.1
    done
    cat "$work/nginx.log" >&2
    return 1
  fi
  under_callgrind "$work/serve.log" "$build/gateway/modelgate" serve --data-dir "$data" \
    --config "$work/config.toml" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 \
    --plugin-dir "$build/plugins"
  port=$(https_port_of "$work/serve.log")
  # the same one-request probe as nginx's, so that both runs' start-up counts alike
  curl -s --cacert "$data/tls/cert.pem" "https://127.0.0.1:$port/v2/health/ready" >/dev/null
}

# count KIND N: total instructions of a server run that answered N requests of KIND
count() {
  local kind=$1 n=$2 path=/v2/models/fashion-mlp/infer
  start_server "$kind"
  [[ $kind == health ]] && path=/v2/health/ready
  [[ $kind == nginx ]] && path=/
  : >"$work/urls"
  for _ in $(seq 1 "$n"); do
    printf 'url = "https://127.0.0.1:%s%s"\noutput = "/dev/null"\n' "$port" "$path" >>"$work/urls"
  done
  local args=(-sS --cacert "$data/tls/cert.pem" -K "$work/urls")
  case $kind in
    json)
      curl "${args[@]}" -H "Authorization: Bearer $key" \
        --data-binary @examples/requests/fashion-mlp.json ;;
    binary)
      curl "${args[@]}" -H "Authorization: Bearer $key" --data-binary @"$work/mlp.bin" \
        -H 'Content-Type: application/octet-stream' \
        -H "Inference-Header-Content-Length: $(cat "$work/mlp.bin.len")" ;;
    *) curl "${args[@]}" ;;
  esac
  if [[ $kind == nginx ]]; then kill -QUIT "$pid"; else kill -TERM "$pid"; fi
  wait "$pid" || true
  sed -n 's/^summary: \([0-9]*\)/\1/p' "$work/cg.out"
}

declare -A per_request
for kind in json binary health nginx; do
  a=$(count "$kind" "$n1") b=$(count "$kind" "$n2")
  per_request[$kind]=$(((b - a) / (n2 - n1)))
  echo "$kind: ${per_request[$kind]} instructions per request ($build; $n1 and $n2 requests)"
done
echo "health / nginx static, instructions: $(python3 -c \
  "print(round(${per_request[health]} / ${per_request[nginx]}, 3))") (the rate ratio is about its inverse)"
