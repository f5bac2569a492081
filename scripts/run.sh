#!/usr/bin/env bash
# The run command: installs dependencies, builds, initialises a data dir (./data, reused on
# later runs), registers the three seed models on the CPU backend, and serves them on
# https://127.0.0.1:8443 in the foreground (Ctrl-C or SIGTERM stops it).
# Environment: MG_DATA_DIR (default ./data), MG_LISTEN (default 127.0.0.1:8443).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
data=${MG_DATA_DIR:-$root/data}
listen=${MG_LISTEN:-127.0.0.1:8443}

scripts/install_deps.sh
cmake --preset default >/dev/null
cmake --build --preset default -j "${MG_JOBS:-2}"

modelgate=$root/build/gateway/modelgate
"$modelgate" init --data-dir "$data"
for model in fashion-mlp fashion-cnn text-classifier; do
  if [[ ! -f "$data/.seeded-$model" ]]; then
    "$modelgate" import --data-dir "$data" "$model" "examples/models/$model.onnx" \
      --config '{"max_batch_size": 64, "instances": 1, "threads": 1}' --promote
    touch "$data/.seeded-$model"
  fi
done

port=${listen##*:}
cat <<EOT

ModelGate is starting on https://$listen with fashion-mlp, fashion-cnn and text-classifier.
TLS certificate (self-signed, for localhost and 127.0.0.1): $data/tls/cert.pem
Try, from another terminal in $root:

  curl --cacert $data/tls/cert.pem https://localhost:$port/v2/models/fashion-mlp
  curl --cacert $data/tls/cert.pem -H 'Content-Type: application/json' \\
       --data @examples/requests/fashion-mlp.json https://localhost:$port/v2/models/fashion-mlp/infer

EOT
exec "$modelgate" serve --data-dir "$data" --listen "$listen" --plugin-dir "$root/build/plugins"
