#!/usr/bin/env bash
# Raw images and texts against tensors, same server, same run: the seed CNN at batch 1 with the
# run command's preprocess and labels, the access log on as shipped, wrk over TLS (2
# threads, 64 connections) on the same 2 cores. Rows: the image as a float tensor to a
# copy of the CNN without preprocessing (the strongest reference: a client that decoded and
# normalised the image itself, to a model whose requests may run on the socket thread), the
# same tensor to the preprocessing CNN, the PNG file raw (the server decodes it), the PNG raw
# answered with its top class by name; then the text classifier: its token ids to a copy
# without preprocessing (the reference), the sentence raw (tokenised by the server), the
# sentence answered with its class by name. Three rounds alternating; medians and ratios.
# With BATCHING=1 every model (reference and preprocessing alike) batches dynamically: up
# to 64 rows, waiting at most 500 µs for them.
# usage: [BATCHING=1] bench/preprocess/run.sh [BUILD_DIR] [SECONDS_PER_RUN] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
duration=${2:-10}
rounds=${3:-3}
scheduling='"max_batch_size": 0'
[[ ${BATCHING:-0} == 1 ]] && scheduling='"max_batch_size": 64, "max_queue_delay_us": 500'
plain="{$scheduling}"
cmake --build "$build" --target modelgate mg_cpu >/dev/null
# shellcheck source=../gateway/work_dir.sh
source bench/gateway/work_dir.sh
/usr/bin/python3 bench/preprocess/make_bodies.py "$work" examples
modelgate=$build/gateway/modelgate
data=$work/data
"$modelgate" init --data-dir "$data" >/dev/null
key=$(cat "$data/admin.key")
config='{'"$scheduling"', "preprocess": {"image": {"type": "image", "color": "grey", "height": 28, "width": 28}},
  "postprocess": {"probabilities": {"labels": ["t-shirt/top", "trouser", "pullover", "dress",
  "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"]}}}'
"$modelgate" import --data-dir "$data" fashion-cnn examples/models/fashion-cnn.onnx \
  --config "$config" --promote >/dev/null
"$modelgate" import --data-dir "$data" plain-cnn examples/models/fashion-cnn.onnx \
  --config "$plain" --promote >/dev/null
text='{'"$scheduling"', "preprocess": {"tokens": {"type": "text"}}, "postprocess": {"probability":
  {"sigmoid_threshold": 0.5, "labels": ["other", "library"]}}}'
"$modelgate" import --data-dir "$data" text examples/models/text-classifier.onnx \
  --config "$text" --file vocabulary=examples/models/text-vocab.txt --promote >/dev/null
"$modelgate" import --data-dir "$data" plain-text examples/models/text-classifier.onnx \
  --config "$plain" --promote >/dev/null
"$modelgate" serve --data-dir "$data" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 \
  --plugin-dir "$build/plugins" >"$work/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do grep -q 'listening on' "$work/serve.log" && break; sleep 0.1; done
port=$(sed -n 's/.*listening on https:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$work/serve.log")
[[ -n "$port" ]] || { cat "$work/serve.log"; exit 1; }
url=https://127.0.0.1:$port/v2/models/fashion-cnn/infer
# The answers first: the PNG's top class is the ankle boot, and raw and tensor agree.
answer=$(curl -sS --cacert "$data/tls/cert.pem" -H "Authorization: Bearer $key" \
  -H "Inference-Header-Content-Length: $(cat "$work/png_label.len")" \
  -H 'Content-Type: application/octet-stream' --data-binary @"$work/png_label.bin" "$url")
[[ $answer == *":9:ankle boot"* ]] || { echo "unexpected answer: $answer"; exit 1; }
answer=$(curl -sS --cacert "$data/tls/cert.pem" -H "Authorization: Bearer $key" \
  -H "Inference-Header-Content-Length: $(cat "$work/sentence_label.len")" \
  -H 'Content-Type: application/octet-stream' --data-binary @"$work/sentence_label.bin" \
  "${url/fashion-cnn/text}")
[[ $answer == *":other"* || $answer == *":library"* ]] || { echo "unexpected answer: $answer"; exit 1; }

declare -A rps p99
run() {
  local line body=$1 target=$url
  [[ $1 == plain_tensor ]] && body=tensor target=${url/fashion-cnn/plain-cnn}
  [[ $1 == plain_ids ]] && body=ids target=${url/fashion-cnn/plain-text}
  [[ $1 == sentence* ]] && target=${url/fashion-cnn/text}
  line=$(BODY=$work/$body.bin HEADER_LENGTH=$(cat "$work/$body.len") \
    CONTENT_TYPE=application/octet-stream KEY=$key \
    wrk -t2 -c64 -d"${duration}s" -s bench/gateway/post.lua "$target" | grep '^RESULT')
  echo "$1 ${line#RESULT }"
  [[ $line == *"non2xx=0 errors=0"* ]] || { echo "failed requests in $1"; exit 1; }
  rps[$1]+="$(sed 's/.*rps=\([0-9.]*\).*/\1/' <<<"$line") "
  p99[$1]+="$(sed 's/.*p99_ms=\([0-9.]*\).*/\1/' <<<"$line") "
}
rows=(plain_tensor tensor png png_label plain_ids sentence sentence_label)
for _ in $(seq 1 "$rounds"); do
  for name in "${rows[@]}"; do run "$name"; done
done
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
echo
echo "medians of $rounds, ${duration} s each, 64 connections, $(nproc) cores, $(date -u +%F):"
for name in "${rows[@]}"; do
  echo "$name: $(median "${rps[$name]}") req/s, p99 $(median "${p99[$name]}") ms"
done
awk -v t="$(median "${rps[plain_tensor]}")" -v p="$(median "${rps[png]}")" \
  -v l="$(median "${rps[png_label]}")" -v s="$(median "${rps[tensor]}")" \
  'BEGIN { printf "against the tensor to the plain CNN: raw PNG %.2f, PNG with its label %.2f, the tensor to the preprocessing CNN %.2f\n", p / t, l / t, s / t }'
awk -v t="$(median "${rps[plain_ids]}")" -v p="$(median "${rps[sentence]}")" \
  -v l="$(median "${rps[sentence_label]}")" \
  'BEGIN { printf "against the ids to the plain text model: the sentence %.2f, the sentence with its label %.2f\n", p / t, l / t }'
