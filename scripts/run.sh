#!/usr/bin/env bash
# The run command: installs dependencies, builds, initialises a data dir (./data, reused on
# later runs), registers the three seed models on the CPU backend, and serves them on
# https://127.0.0.1:8443 in the foreground (Ctrl-C or SIGTERM stops it); creates a demo tenant
# and infer key once and prints bearer, signed and mgctl examples.
# The KServe v2 gRPC API is served on 127.0.0.1:8444 (TLS, the same certificate).
# Environment: MG_DATA_DIR (default ./data), MG_LISTEN (default 127.0.0.1:8443),
# MG_GRPC_LISTEN (default 127.0.0.1:8444).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
data=${MG_DATA_DIR:-$root/data}
listen=${MG_LISTEN:-127.0.0.1:8443}
grpc_listen=${MG_GRPC_LISTEN:-127.0.0.1:8444}

scripts/install_deps.sh
cmake --preset default >/dev/null
cmake --build --preset default -j "${MG_JOBS:-2}"

modelgate=$root/build/gateway/modelgate
mgctl=$root/build/admin/mgctl
# init writes the first admin key to $data/admin.key (mode 0600); the examples read it there.
"$modelgate" init --data-dir "$data"
[[ -s "$data/admin.key" ]] || { echo "run: no admin key in $data/admin.key" >&2; exit 1; }
# The image models also take PNG and JPEG files as their input (docs/preprocessing.md).
# Their answers can be class names too ("classification" on the output: docs/preprocessing.md).
image='"preprocess": {"image": {"type": "image", "color": "grey", "height": 28, "width": 28}}'
image+=', "postprocess": {"probabilities": {"labels": ["t-shirt/top", "trouser", "pullover",'
image+=' "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"]}}'
# The text model takes sentences, tokenised with the vocabulary it was trained with (a file
# of the version, signed and encrypted like the model), and answers "library" or "other".
text='"preprocess": {"tokens": {"type": "text", "vocabulary": "vocabulary"}}'
text+=', "postprocess": {"probability": {"sigmoid_threshold": 0.5, "labels": ["other", "library"]}}'
for model in fashion-mlp fashion-cnn text-classifier; do
  if [[ ! -f "$data/.seeded-$model" ]]; then
    config='"max_batch_size": 64, "instances": 1, "threads": 1'
    files=()
    [[ $model == fashion-* ]] && config+=", $image"
    [[ $model == text-* ]] && config+=", $text" && files=(--file vocabulary=examples/models/text-vocab.txt)
    "$modelgate" import --data-dir "$data" "$model" "examples/models/$model.onnx" \
      --config "{$config}" "${files[@]}" --promote
    touch "$data/.seeded-$model"
  fi
done

port=${listen##*:}
"$modelgate" serve --data-dir "$data" --listen "$listen" --grpc-listen "$grpc_listen" \
  --plugin-dir "$root/build/plugins" &
server=$!
trap 'kill -TERM "$server" 2>/dev/null; wait "$server"; exit' INT TERM
export MG_SERVER=https://localhost:$port MG_CACERT=$data/tls/cert.pem
until curl -sf --cacert "$MG_CACERT" "$MG_SERVER/v2/health/ready" >/dev/null 2>&1; do
  kill -0 "$server" 2>/dev/null || { echo "run: the server did not start" >&2; exit 1; }
  sleep 0.2
done

# A demo tenant with an infer-scope key (created once, kept in data/demo.key).
if [[ ! -s "$data/demo.key" ]]; then
  MG_KEY=$(cat "$data/admin.key") "$mgctl" tenant create demo --quota 1000000/month >/dev/null 2>&1 || true
  demo_key=$(MG_KEY=$(cat "$data/admin.key") "$mgctl" --json key create --tenant demo --scope infer \
    --rate 200/s --burst 400 | sed -n 's/.*"key":"\([^"]*\)".*/\1/p')
  (umask 077 && printf '%s\n' "$demo_key" >"$data/demo.key")
fi

cat <<EOT

ModelGate is serving https://$listen: fashion-mlp, fashion-cnn, text-classifier (Ctrl-C stops it),
and the KServe v2 gRPC API on $grpc_listen (TLS; docs/grpc.md).
TLS certificate (self-signed, for localhost and 127.0.0.1): $data/tls/cert.pem
Admin key (admin and infer scopes): $data/admin.key
Demo tenant key (infer scope, 200 requests/s, 1000000/month): $data/demo.key
Try, from another terminal in $root:

  # a PNG in, its class out; a sentence in, its class out (bearer requests)
  curl --cacert $data/tls/cert.pem -H "Authorization: Bearer \$(cat $data/demo.key)" \\
       --data @examples/requests/ankle-boot-png.json https://localhost:$port/v2/models/fashion-cnn/infer
  curl --cacert $data/tls/cert.pem -H "Authorization: Bearer \$(cat $data/demo.key)" \\
       --data @examples/requests/text-sentence.json https://localhost:$port/v2/models/text-classifier/infer
  # the image as a tensor
  curl --cacert $data/tls/cert.pem -H "Authorization: Bearer \$(cat $data/demo.key)" \\
       --data @examples/requests/fashion-mlp.json https://localhost:$port/v2/models/fashion-mlp/infer

  # a signed request (the key never travels; openssl + curl)
  MG_KEY=\$(cat $data/demo.key) sdk/examples/shell/mg_signed_curl.sh POST \\
       https://localhost:$port/v2/models/fashion-mlp/infer examples/requests/fashion-mlp.json \\
       --cacert $data/tls/cert.pem

  # the admin CLI
  export MG_SERVER=https://localhost:$port MG_CACERT=$data/tls/cert.pem MG_KEY=\$(cat $data/admin.key)
  $mgctl infer fashion-mlp --input examples/requests/fashion-mlp.json
  $mgctl infer fashion-cnn --image examples/images/ankle-boot.png --top 1   # an image in, a class out
  $mgctl infer text-classifier --text "GNU C library: shared libraries" --top 1   # a sentence in
  $mgctl model list
  $mgctl usage --tenant demo

EOT
wait "$server"
