#!/usr/bin/env bash
# Debian's nginx as the cluster's load balancer for the tests: `start STATE_DIR CERT KEY
# PORT…` terminates TLS on a free 127.0.0.1 port with CERT/KEY and proxies to the
# replicas' HTTPS ports round robin (keepalive upstream connections); writes its port to
# STATE_DIR/port. `stop STATE_DIR` stops it by PID.
set -euo pipefail
command=${1:?usage: nginx_balancer.sh start STATE_DIR CERT KEY PORT… | stop STATE_DIR}
state=${2:?usage: nginx_balancer.sh start STATE_DIR CERT KEY PORT… | stop STATE_DIR}

case $command in
  start)
    cert=$3 key=$4
    shift 4
    mkdir -p "$state/temp"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    {
      ((EUID == 0)) && echo "user root;"
      echo "worker_processes 1;"
      echo "pid $state/nginx.pid;"
      echo "error_log $state/error.log warn;"
      echo "events { worker_connections 1024; }"
      echo "http {"
      echo "  access_log off;"
      for t in client_body proxy fastcgi uwsgi scgi; do echo "  ${t}_temp_path $state/temp/$t;"; done
      echo "  upstream modelgate {"
      for p in "$@"; do echo "    server 127.0.0.1:$p max_fails=0;"; done
      echo "    keepalive 32;"
      echo "  }"
      echo "  server {"
      echo "    listen 127.0.0.1:$port ssl;"
      echo "    ssl_certificate $cert;"
      echo "    ssl_certificate_key $key;"
      echo "    client_max_body_size 64m;"
      echo "    location / {"
      echo "      proxy_pass https://modelgate;"
      echo "      proxy_http_version 1.1;"
      echo "      proxy_set_header Connection \"\";"
      echo "      proxy_ssl_server_name on;"
      echo "      proxy_ssl_name localhost;"
      echo "    }"
      echo "  }"
      echo "}"
    } >"$state/nginx.conf"
    nginx -p "$state" -c "$state/nginx.conf"
    echo "$port" >"$state/port"
    for _ in $(seq 1 100); do
      curl -sk "https://127.0.0.1:$port/v2/health/live" >/dev/null 2>&1 && exit 0
      sleep 0.05
    done
    echo "nginx_balancer: no answer on port $port" >&2
    exit 1
    ;;
  stop)
    [[ -f "$state/nginx.pid" ]] || exit 0
    pid=$(cat "$state/nginx.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    rm -f "$state/nginx.pid"
    ;;
  *) echo "usage: nginx_balancer.sh start STATE_DIR CERT KEY PORT… | stop STATE_DIR" >&2; exit 2 ;;
esac
