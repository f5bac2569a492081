#!/usr/bin/env bash
# Overload: drives the CNN seed model (a slow model: its batches queue, at most 64
# requests wait) far past its capacity and reports what the server admits and sheds,
# the latency an admitted request sees, and memory. Loopback only, bounded in time.
#   1. capacity: wrk, 32 connections, SECONDS s — the req/s it sustains without errors;
#   2. overload: wrk with 512 connections (16x the concurrency that saturates it; each
#      refused request is re-sent at once, so the offered rate is several times the
#      capacity) for SECONDS s, while a probe (hey, 2 workers, 25 req/s each) records
#      every request's status and latency in CSV; RSS sampled every second.
# usage: bench/reliability/overload.sh [BUILD_DIR=build] [SECONDS=15]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
seconds=${2:-15}
source "$root/bench/reliability/serve_lib.sh"
# A bounded queue: 64 requests wait at most; beyond that, 503 overloaded.
import_model fashion-cnn '{"max_batch_size": 32, "max_queue": 64, "max_queue_delay_us": 2000}'
start_server
url=$base/v2/models/fashion-cnn/infer
body=$work/request.json
# One CNN image request: the MLP's image with the channel dimension.
sed 's/"shape": \[1, 28, 28\]/"shape": [1, 1, 28, 28]/' "$root/examples/requests/fashion-mlp.json" >"$body"
grep -q '"shape": \[1, 1, 28, 28\]' "$body" || { echo "cannot make the CNN request"; exit 1; }

capacity=$(BODY=$body KEY=$key wrk -t2 -c32 -d"${seconds}s" -s "$root/bench/gateway/post.lua" "$url" |
  grep '^RESULT')
echo "capacity: $capacity"
rps=$(sed -n 's/.*RESULT rps=\([0-9]*\).*/\1/p' <<<"$capacity")
rss_before=$(rss_kb)
( for _ in $(seq 1 "$seconds"); do rss_kb; sleep 1; done ) >"$work/rss.samples" &
sampler=$!
BODY=$body KEY=$key wrk -t1 -c512 -d"${seconds}s" -s "$root/bench/gateway/post.lua" "$url" \
  >"$work/wrk.out" 2>&1 &
flood=$!
sleep 1
hey -z "$((seconds - 2))s" -c 2 -q 25 -m POST -T application/json \
  -H "Authorization: Bearer $key" -D "$body" -o csv "$url" >"$work/hey.csv" 2>"$work/hey.err" || true
wait "$flood" || true
wait "$sampler" || true
sleep 2  # connections closed, heap settled
flood_result=$(grep '^RESULT' "$work/wrk.out" || cat "$work/wrk.out")
echo "overload (wrk -c512): $flood_result"
rss_after=$(rss_kb)
# hey's CSV: response-time,DNS+dialup,DNS,Request-write,Response-delay,Response-read,status-code,offset
awk -F, 'NR > 1 && $7 == 200 { printf "%.3f\n", $1 * 1000 }' "$work/hey.csv" | sort -n >"$work/ok.ms"
admitted=$(wc -l <"$work/ok.ms")
pct() { sed -n "$(awk -v n="$admitted" -v p="$1" 'BEGIN { i = int(n * p) + 1; print (i > n ? n : i) }')p" "$work/ok.ms"; }
awk -v r="$flood_result" -v capacity="$rps" 'BEGIN {
  match(r, /rps=[0-9]+/); offered = substr(r, RSTART + 4, RLENGTH - 4)
  match(r, /admitted_rps=[0-9.]+/); admitted = substr(r, RSTART + 13, RLENGTH - 13)
  printf "flood: %d req/s answered (%.1f x capacity %d), %.0f admitted, %.0f shed\n",
    offered, offered / capacity, capacity, admitted, offered - admitted }'
awk -F, 'NR > 1 && $7 != "" { total++; status[$7]++ }
  END { printf "probe: %d requests:", total; for (s in status) printf " %s x %d", s, status[s]; print "" }' \
  "$work/hey.csv"
if ((admitted > 0)); then
  echo "probe, admitted: p50 $(pct 0.5) ms, p99 $(pct 0.99) ms, max $(tail -1 "$work/ok.ms") ms ($admitted requests)"
fi
awk -v before="$rss_before" -v peak="$(sort -n "$work/rss.samples" | tail -1)" -v after="$rss_after" 'BEGIN {
  printf "RSS: %.1f MiB before, %.1f MiB peak, %.1f MiB after\n", before / 1024, peak / 1024, after / 1024 }'
grep -v '^$' "$work/hey.err" | head -5 || true
