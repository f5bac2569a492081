# Shared by the reliability benches (source it): a temp data dir with the seed models and
# a modelgate server on loopback port 0, stopped by its PID at exit.
# Needs: build (build dir), root (repository root). Sets: work, data, pid, port, key, base.
work=$(mktemp -d)
pid=
trap '[[ -n "$pid" ]] && kill -TERM "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
data=$work/data
"$build/gateway/modelgate" init --data-dir "$data" >/dev/null
key=$(cat "$data/admin.key")
import_model() {  # import_model NAME CONFIG_JSON
  "$build/gateway/modelgate" import --data-dir "$data" "$1" "$root/examples/models/$1.onnx" \
    --config "$2" --promote >/dev/null
}
start_server() {
  printf 'access_log = "off"\n' >"$work/modelgate.toml"
  "$build/gateway/modelgate" serve --data-dir "$data" --config "$work/modelgate.toml" \
    --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --plugin-dir "$build/plugins" \
    >"$work/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do grep -q 'listening on' "$work/serve.log" && break; sleep 0.1; done
  port=$(sed -n 's/.*listening on https:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$work/serve.log")
  [[ -n "$port" ]] || { cat "$work/serve.log"; exit 1; }
  base=https://localhost:$port
}
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$pid/status"; }
hwm_kb() { awk '/^VmHWM/ { print $2 }' "/proc/$pid/status"; }
fd_count() { ls "/proc/$pid/fd" | wc -l; }
