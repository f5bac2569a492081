#!/usr/bin/env bash
# Slow and abusive clients: while 1000 idle TCP connections, 300 stalled TLS handshakes
# and 300 slowloris request heads from one address (127.0.0.2), and a stream of 64 KiB-
# header requests, hammer the server, a well-behaved client on another address (wrk from
# 127.0.0.1, 8 connections) keeps being served: no errors, and its p99 is reported next to
# a baseline measured the same way just before. The server holds at most its
# per-address cap (200 here) of the attacker's connections and closes the rest at once,
# cuts the ones it holds by its deadlines (handshake 2 s, request 5 s here), answers
# oversized heads with 413, and its file descriptors return to their baseline once the
# attack stops.
# usage: abusive_clients_test.sh MODELGATE MG_ABUSE PLUGIN_DIR EXAMPLES_DIR POST_LUA
set -euo pipefail
modelgate=$1 abuse=$2 plugins=$3 examples=$4 post_lua=$5
source "$(dirname "$0")/../e2e_lib.sh"

data=$work/data
init_with_mlp "$data"
cat >"$work/config.toml" <<EOT
access_log = "off"
[limits]
handshake_timeout_seconds = 2
read_timeout_seconds = 5
max_connections_per_address = 200
EOT
start_modelgate "$data" --config "$work/config.toml" || fail "server did not start"
url=https://localhost:$port/v2/models/fashion-mlp/infer
fds() { ls "/proc/$pid/fd" | wc -l; }
legit() {  # 5 s of wrk; prints its RESULT line
  BODY=$examples/requests/fashion-mlp.json KEY=$admin_key \
    wrk -t1 -c8 -d5s -s "$post_lua" "$url" 2>&1 | grep '^RESULT' || echo "RESULT none"
}
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$2"; }
check_legit() {  # check_legit NAME RESULT
  local requests non2xx errors
  requests=$(field requests "$2") non2xx=$(field non2xx "$2") errors=$(field errors "$2")
  [[ -n "$requests" ]] && ((requests > 100 && non2xx == 0 && errors == 0)) ||
    fail "$1: the well-behaved client was not served cleanly: $2"
}
fds_before=$(fds); ls -l /proc/$pid/fd > "$work/fds.before"
baseline=$(legit)
check_legit baseline "$baseline"
echo "baseline:     $baseline"

"$abuse" "$port" 14 1000 300 300 127.0.0.2 >"$work/abuse.out" 2>&1 &
abuse_pid=$!
# the peak count of descriptors while the attack runs, sampled every 0.1 s (a single
# sample depends on where the attackers are in their reconnect cycle, and under ASan on
# a loaded machine the server accepts more slowly)
(peak=0; while kill -0 "$abuse_pid" 2>/dev/null; do
   n=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l); ((n > peak)) && peak=$n && echo "$peak" >"$work/fds.peak"
   sleep 0.1; done) &
sampler_pid=$!
sleep 3
attacked=$(legit)
check_legit "under attack" "$attacked"
echo "under attack: $attacked"
wait "$abuse_pid" || fail "the abuse client failed: $(cat "$work/abuse.out")"
wait "$sampler_pid" || true
fds_attack=$(cat "$work/fds.peak" 2>/dev/null || echo 0)
report=$(cat "$work/abuse.out")
echo "attackers:    $report"
dropped=$(field dropped_by_server "$report") got413=$(field oversized_413 "$report")
other=$(field oversized_other "$report")
((dropped >= 1600)) || fail "the server did not cut the idle/stalled/slow connections: $report"
((got413 > 0 && other == 0)) || fail "oversized headers not answered 413: $report"
# 1600 attacker connections are in play from one address: the server holds at most its
# cap of them (plus wrk's 8 and one oversized-header connection), and reaching near the
# cap shows the attack really reached it.
((fds_attack > fds_before + 150)) || fail "the attack did not reach the server (peak $fds_attack fds)"
((fds_attack <= fds_before + 200 + 16)) ||
  fail "the server held more than 200 connections from one address (peak $fds_attack fds, $fds_before before)"
# (a few event-loop descriptors — epoll, eventfd, timerfd — are created once, lazily)
for _ in $(seq 1 50); do (($(fds) <= fds_before + 8)) && break; sleep 0.2; done
(($(fds) <= fds_before + 8)) || fail "fds did not return: $fds_before before, $(fds) after: $(diff "$work/fds.before" <(ls -l /proc/$pid/fd))"
echo "ok   fds: $fds_before before, peak $fds_attack during the attack, $(fds) after"
awk -v b="$(field p99_ms "$baseline")" -v a="$(field p99_ms "$attacked")" \
  -v rb="$(field rps "$baseline")" -v ra="$(field rps "$attacked")" 'BEGIN {
  printf "ok   well-behaved client: p99 %.2f ms -> %.2f ms (x%.2f), %.0f -> %.0f req/s\n", b, a, a / b, rb, ra }'
stop_modelgate
echo "abusive clients: all checks passed"
