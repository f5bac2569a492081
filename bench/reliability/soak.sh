#!/usr/bin/env bash
# Soak: MINUTES minutes (default 10) of steady mixed traffic on loopback — JSON inference
# on the MLP and the text model, binary inference on the CNN, metadata and health —
# reporting each minute the server's RSS, open fds, and each load's req/s and p99.
# RSS growth is judged after the first minute (warm-up: heaps, caches, JIT kernels).
# usage: bench/reliability/soak.sh [BUILD_DIR=build] [MINUTES=10]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
minutes=${2:-10}
source "$root/bench/reliability/serve_lib.sh"
for model in fashion-mlp fashion-cnn text-classifier; do
  import_model "$model" '{"max_batch_size": 32}'
done
start_server
lua=$root/bench/gateway/post.lua
cnn_body=$work/cnn.json
sed 's/"shape": \[1, 28, 28\]/"shape": [1, 1, 28, 28]/' "$root/examples/requests/fashion-mlp.json" >"$cnn_body"
load() {  # load NAME SECONDS URL BODY CONNECTIONS: one wrk run; prints "NAME rps p99"
  local result
  result=$(BODY=$4 KEY=$key wrk -t1 -c"$5" -d"$2s" -s "$lua" "$base$3" | grep '^RESULT')
  awk -v n="$1" -v r="$result" 'BEGIN {
    match(r, /rps=[0-9]+/); rps = substr(r, RSTART + 4, RLENGTH - 4)
    match(r, /p99_ms=[0-9.]+/); p99 = substr(r, RSTART + 7, RLENGTH - 7)
    match(r, /non2xx=[0-9]+/); bad = substr(r, RSTART + 7, RLENGTH - 7)
    match(r, /errors=[0-9]+/); err = substr(r, RSTART + 7, RLENGTH - 7)
    printf "%s %s req/s p99 %s ms%s", n, rps, p99, (bad + err > 0 ? " (" bad + err " failed)" : "") }'
}
printf '%-7s %-9s %-5s %s\n' minute "RSS MiB" fds "load (each for the whole minute, concurrently)"
first_rss=
for minute in $(seq 1 "$minutes"); do
  load mlp 60 /v2/models/fashion-mlp/infer "$root/examples/requests/fashion-mlp.json" 4 >"$work/mlp" &
  a=$!
  load text 60 /v2/models/text-classifier/infer "$root/examples/requests/text-classifier.json" 2 >"$work/text" &
  b=$!
  load cnn 60 /v2/models/fashion-cnn/infer "$cnn_body" 2 >"$work/cnn" &
  c=$!
  wait $a $b $c
  rss=$(rss_kb)
  [[ $minute == 1 ]] && first_rss=$rss
  printf '%-7s %-9.1f %-5s %s; %s; %s\n' "$minute" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" \
    "$(fd_count)" "$(cat "$work/mlp")" "$(cat "$work/text")" "$(cat "$work/cnn")"
done
awk -v a="$first_rss" -v b="$(rss_kb)" 'BEGIN {
  printf "RSS after warm-up (minute 1): %.1f MiB; at the end: %.1f MiB; growth %.1f%% (target < 5%%)\n",
    a / 1024, b / 1024, (b - a) * 100 / a }'
