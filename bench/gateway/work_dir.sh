# Sourced by the gateway benches: a temp dir `work` and a list `pids` of the servers they
# start, all killed and the dir removed when the script exits.
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# install_missing PACKAGE…: installs with apt those of the Debian packages given that are not
# installed yet (nothing when all are), and stops the service the nginx package starts.
install_missing() {
  local missing=() p
  for p in "$@"; do
    [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == "install ok installed" ]] || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  systemctl stop nginx 2>/dev/null || true  # the package starts one on port 80
}

# https_port_of LOG: waits up to 30 s for the server writing LOG to listen and prints its
# HTTPS port; prints the log to stderr and fails when it does not.
https_port_of() {
  local log=$1 port=""
  for _ in $(seq 1 300); do grep -q 'listening on' "$log" && break; sleep 0.1; done
  port=$(sed -n 's/.*listening on https:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$log")
  [[ -n "$port" ]] || { cat "$log" >&2; return 1; }
  echo "$port"
}

# serve_data BUILD DATA: starts BUILD's server on DATA (access log off, free ports), adds
# it to pids and sets `port` to its HTTPS port.
serve_data() {
  local build=$1 data=$2 log=$work/serve-${#pids[@]}.log
  printf 'access_log = "off"\n' >"$work/serve_data.toml"
  "$build/gateway/modelgate" serve --data-dir "$data" --config "$work/serve_data.toml" \
    --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --plugin-dir "$build/plugins" >"$log" 2>&1 &
  pids+=($!)
  port=$(https_port_of "$log")
}

# nginx_static_conf CONF PORT CERT KEY WORKERS: writes an nginx config serving a 200-byte
# JSON body over TLS on 127.0.0.1:PORT with WORKERS worker processes (the machine's
# ceiling that the health check is compared with); its pid and error log in `work`.
nginx_static_conf() {
  local conf=$1 port=$2 cert=$3 key=$4 workers=$5 body
  body=$(printf '{"status":"ready","detail":"%s"}' "$(head -c 170 /dev/zero | tr '\0' x)")
  cat >"$conf" <<EOT
worker_processes $workers;
pid $work/nginx.pid;
error_log $work/nginx.error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$port ssl;
    ssl_certificate $cert;
    ssl_certificate_key $key;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / { default_type application/json; return 200 '$body'; }
  }
}
EOT
}
