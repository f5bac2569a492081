# Shared by the end-to-end scripts (source it): a temp work dir removed at exit (the
# server killed if still running), fail/expect helpers, and a server starter.
# The sourcing script sets `modelgate` and `plugins` first.
work=$(mktemp -d)
pid=
cleanup() {
  [[ -n "$pid" ]] && kill -KILL "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; [[ -f $work/serve.log ]] && sed 's/^/  log: /' "$work/serve.log"; exit 1; }
expect() {  # expect NAME HAYSTACK NEEDLE
  [[ "$2" == *"$3"* ]] || fail "$1: expected '$3' in: ${2:0:${MG_EXPECT_SHOW:-400}}"
  echo "ok   $1"
}

# wrong_key KEY: KEY with its last character changed to a different one. (Replacing it with a
# fixed letter gave back the right key whenever the key already ended in that letter.)
wrong_key() {
  local key=$1
  if [[ ${key: -1} == x ]]; then echo "${key%?}y"; else echo "${key%?}x"; fi
}

# start_modelgate DATA_DIR [serve flags…]: `modelgate serve` on port 0 (API and metrics),
# appending to $work/serve.log; waits for its new "listening on" line and sets pid, port
# and metrics_port. Returns 1 if the server exits during start.
start_modelgate() {
  local data=$1
  shift
  local before
  before=$(grep -c 'listening on https://' "$work/serve.log" 2>/dev/null || true)
  "$modelgate" serve --data-dir "$data" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 \
    --plugin-dir "$plugins" "$@" >>"$work/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do  # up to 30 s
    (($(grep -c 'listening on https://' "$work/serve.log") > ${before:-0})) && break
    kill -0 "$pid" 2>/dev/null || { pid=; return 1; }
    sleep 0.1
  done
  port=$(sed -n 's/.*listening on https:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$work/serve.log" | tail -1)
  metrics_port=$(sed -n 's/.*metrics on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$work/serve.log" | tail -1)
  [[ -n "$port" ]] || fail "no listening line"
}

# stop_modelgate: SIGTERM, and the exit status must be 0.
stop_modelgate() {
  kill -TERM "$pid"
  local status=0
  wait "$pid" || status=$?
  pid=
  [[ $status == 0 ]] || fail "exit status $status after SIGTERM"
}

# init_with_mlp DATA_DIR: initialises a data dir with the MLP seed model promoted (batches
# of up to 8) and sets admin_key. Needs `examples`.
init_with_mlp() {
  "$modelgate" init --data-dir "$1" >/dev/null
  admin_key=$(cat "$1/admin.key")
  [[ -n "$admin_key" ]] || fail "init wrote no admin key"
  "$modelgate" import --data-dir "$1" fashion-mlp "$examples/models/fashion-mlp.onnx" \
    --config '{"max_batch_size": 8}' --promote >/dev/null
}

# wait_until SECONDS COMMAND…: runs COMMAND every 0.1 s until it succeeds (0), or returns 1
# after SECONDS. Tests wait for the state they need, never for a guessed duration.
wait_until() {
  local tries=$(($1 * 10)) i
  shift
  for ((i = 0; i < tries; i++)); do
    "$@" && return 0
    sleep 0.1
  done
  return 1
}

# metric NAME: the value of an unlabelled series on the server's /metrics (empty if absent).
metric() {
  curl -sS "http://127.0.0.1:$metrics_port/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}
