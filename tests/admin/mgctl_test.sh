#!/usr/bin/env bash
# End to end with mgctl (the client SDK) against the real server over real TLS:
#   model create / upload --promote (with --vocab / --labels files) / list / show / versions /
#   alias / load / unload / infer --image / infer --text /
#   retire, backend list, infer, tenant and key verbs, --json documents, exit codes;
#   dataset upload / list / show / remove, model gate / evaluate / reports, promote --force;
#   a canary (alias NAME default 2:90 3:10, --sticky, rollback, model canary thresholds);
#   a shadow (its comparison, metrics, --report);
#   a 200 MB upload streamed by both processes (peak memory of each stays far below the
#   file size), an upload refused before its body is sent, an interrupted upload that
#   leaves nothing behind.
# usage: mgctl_test.sh MODELGATE MGCTL PLUGIN_DIR EXAMPLES_DIR
set -euo pipefail
modelgate=$1 mgctl=$2 plugins=$3 examples=$4
# shellcheck source=../e2e_lib.sh
source "$(dirname "$0")/../e2e_lib.sh"
status_of() { set +e; "$@" >"$work/out" 2>"$work/err"; echo $?; set -e; }

data=$work/data
init_out=$("$modelgate" init --data-dir "$data" --json)
expect "init --json names the key file" "$init_out" '"admin_key_file":"'"$data/admin.key"'"'
[[ "$init_out" != *'"admin_key":'* ]] || fail "init --json printed the key to a pipe"
MG_KEY=$(cat "$data/admin.key")
[[ $MG_KEY == mg_* ]] || fail "init wrote no admin key"
start_modelgate "$data" || fail "server exited during start"
export MG_SERVER=https://localhost:$port MG_KEY MG_CACERT=$data/tls/cert.pem
m() { "$mgctl" "$@"; }

expect "model create" "$(m model create fashion-mlp --max-batch 8 --instances 1)" "created model fashion-mlp"
out=$(m --json model upload fashion-mlp "$examples/models/fashion-mlp.onnx" --promote --notes "seed")
expect "upload --json names the version" "$out" '"version":1'
expect "upload --promote loads it" "$out" '"state":"ready"'
expect "model list" "$(m model list)" "default=1"
expect "model show" "$(m model show fashion-mlp)" '"max_batch_size":8'
out=$(m infer fashion-mlp --input "$examples/requests/fashion-mlp.json")
expect "infer" "$out" "probabilities FP32 [1,10]"
expect "infer --json" "$(m --json infer fashion-mlp --version 1 --input "$examples/requests/fashion-mlp.json")" \
  '"model_version":"1"'
expect "backend list" "$(m backend list)" "cpu   ready"
expect "upload v2" "$(m model upload fashion-mlp "$examples/models/fashion-mlp.onnx")" "version 2 (registered)"
expect "alias" "$(m model alias fashion-mlp canary 2)" "canary -> version 2"
expect "versions" "$(m model versions fashion-mlp)" "canary"
expect "promote" "$(m model promote fashion-mlp 2)" "default -> version 2"
expect "unload" "$(m model unload fashion-mlp 1)" "registered"
expect "load" "$(m model load fashion-mlp 1)" "ready"
expect "retire" "$(m model retire fashion-mlp 1)" "retired"
# A canary: the default alias split 90/10, then rolled back in one command.
expect "upload v3" "$(m model upload fashion-mlp "$examples/models/fashion-mlp.onnx")" "version 3 (registered)"
expect "split" "$(m model alias fashion-mlp default 2:90 3:10)" "default -> version 2:90 version 3:10"
for _ in $(seq 100); do
  { curl -sS --cacert "$MG_CACERT" -H "Authorization: Bearer $MG_KEY" -H 'Content-Type: application/json' \
    --data-binary "@$examples/requests/fashion-mlp.json" "$MG_SERVER/v2/models/fashion-mlp/infer"; echo; } |
    sed -n 's/.*"model_version":"\([0-9]*\)".*/\1/p'
done >"$work/versions"
canary=$(grep -c '^3$' "$work/versions" || true)
(( $(wc -l <"$work/versions") == 100 && canary > 0 && canary < 40 )) ||
  fail "90/10 split answered: $(sort "$work/versions" | uniq -c | tr '\n' ' ')"
echo "ok   the canary answered $canary of 100"
expect "split shown" "$(m --json model show fashion-mlp)" '"splits":{"default":{"versions":[{"version":2,"weight":90},{"version":3,"weight":10}],"sticky":false}}'
expect "shadow" "$(m model shadow fashion-mlp 3 --share 1)" "version 3 shadows 100.0 % of 'default'"
for _ in $(seq 10); do m infer fashion-mlp --input "$examples/requests/fashion-mlp.json" >/dev/null; done
for _ in $(seq 100); do  # the copies run after the callers are answered
  out=$(m model shadow fashion-mlp)
  [[ $out == *"agreement 1.0000"* ]] && break
  sleep 0.1
done
expect "the shadow agrees" "$out" "agreement 1.0000"
metrics=$(curl -sS "http://127.0.0.1:$metrics_port/metrics")
expect "shadow metrics" "$metrics" 'modelgate_shadow_copies_total{model="fashion-mlp",version="3"}'
expect "shadow agreement metric" "$metrics" 'modelgate_shadow_agreed_rows_total{model="fashion-mlp",version="3"}'

expect "shadow report" "$(m model shadow fashion-mlp --report)" "shadow comparison kept as report #"
expect "shadow report listed" "$(m model reports fashion-mlp)" "(shadow)"
expect "shadow report's agreement" "$(m model reports fashion-mlp)" "agree 1.0000"
expect "canary thresholds" "$(m model canary fashion-mlp --max-p99-ms 250 --min-requests 50)" \
  "rolled back after 50 requests when its p99 passes 250.00 ms"
expect "canary thresholds in the config" "$(m --json model show fashion-mlp)" '"canary":{"min_requests":50,"max_p99_ms":'
[[ $(status_of m model canary fashion-mlp --min-requests 5) == 1 ]] || fail "a canary without thresholds accepted"
expect "canary without thresholds" "$(cat "$work/err")" "set max_error_rate, max_p99_ms or both"
expect "canary removed" "$(m model canary fashion-mlp --remove)" "no automatic rollback"
expect "shadow removed" "$(m model shadow fashion-mlp --remove)" "fashion-mlp: no shadow"
expect "sticky split" "$(m model alias fashion-mlp default 2:1 3:1 --sticky)" "(sticky by key)"
expect "rollback" "$(m model rollback fashion-mlp)" "default -> version 2"
[[ $(status_of m model rollback fashion-mlp) == 1 ]] || fail "rollback of a plain alias"
expect "nothing to roll back" "$(cat "$work/err")" "no canary to roll back"
[[ $(status_of m model alias fashion-mlp default 2:0 3:1) == 2 ]] || fail "weight 0 accepted"

# Backend config through --config KEY=VALUE: the CNN with Winograd convolutions on two
# threads loads and infers; a value the backend refuses fails the load, naming the key.
expect "model create --config" \
  "$(m model create fashion-cnn --max-batch 16 --config conv_winograd=true --config threads=2)" \
  "created model fashion-cnn"
expect "config stored as JSON" "$(m model show fashion-cnn)" '"conv_winograd":true,"threads":2'
expect "Winograd CNN loads" "$(m --json model upload fashion-cnn "$examples/models/fashion-cnn.onnx" --promote)" \
  '"state":"ready"'
sed 's/"shape": \[1, 28, 28\]/"shape": [1, 1, 28, 28]/' "$examples/requests/fashion-mlp.json" >"$work/cnn.json"
expect "Winograd CNN infers" "$(m infer fashion-cnn --input "$work/cnn.json")" "probabilities FP32 [1,10]"
# Raw images (docs/preprocessing.md): PNG and JPEG files through `infer --image`, as the
# run command registers the Fashion models.
m model create raw-cnn --max-batch 8 \
  --config 'preprocess={"image":{"type":"image","color":"grey","height":28,"width":28}}' >/dev/null
expect "raw CNN loads" "$(m --json model upload raw-cnn "$examples/models/fashion-cnn.onnx" --promote)" \
  '"state":"ready"'
argmax() {  # the class of a one-image answer (its 10 probabilities, flat)
  python3 -c 'import json, sys
d = json.load(sys.stdin)["outputs"][0]["data"]; print(max(range(10), key=d.__getitem__))'
}
[[ $(m --json infer raw-cnn --image "$examples/images/ankle-boot.png" | argmax) == 9 ]] ||
  fail "the ankle boot PNG is not class 9"
[[ $(m --json infer raw-cnn --image "$examples/images/trouser.jpg" | argmax) == 1 ]] ||
  fail "the 112x112 RGB trouser JPEG is not class 1"
expect "two images, one request" \
  "$(m infer raw-cnn --image "$examples/images/ankle-boot.png" --image "$examples/images/trouser.jpg")" \
  "probabilities FP32 [2,10]"
m model create labelled --max-batch 8 \
  --config 'preprocess={"image":{"type":"image","color":"grey","height":28,"width":28}}' \
  --config 'postprocess={"probabilities":{"labels":["t-shirt/top","trouser","pullover","dress","coat","sandal","shirt","sneaker","bag","ankle boot"]}}' >/dev/null
m model upload labelled "$examples/models/fashion-cnn.onnx" --promote >/dev/null
expect "the top class, by name" "$(m infer labelled --image "$examples/images/ankle-boot.png" --top 2)" \
  "probabilities BYTES [1,2]"
expect "the top class is the ankle boot" "$(m infer labelled --image "$examples/images/ankle-boot.png" --top 1)" \
  ':9:ankle boot'
# Raw text: the vocabulary and labels uploaded as files of the version (--vocab, --labels),
# sentences in through `infer --text`, a class name out.
m model create text --max-batch 8 \
  --config 'preprocess={"tokens":{"type":"text"}}' \
  --config 'postprocess={"probability":{"sigmoid_threshold":0.5,"labels_file":"labels"}}' >/dev/null
printf 'other\nlibrary\n' >"$work/text-labels.txt"
out=$(m --json model upload text "$examples/models/text-classifier.onnx" --promote \
  --vocab "$examples/models/text-vocab.txt" --labels "$work/text-labels.txt")
expect "a version with its files" "$out" '"files":{"labels":"'
expect "the vocabulary is one of them" "$out" '"vocabulary":"'
expect "sentences in, classes out" \
  "$(m infer text --text "GNU C library: shared libraries" --text "a chess game" --top 1)" \
  'probability BYTES [2,1]: ["0.949550:1:library","0.'
expect "the second is not a library" "$(m infer text --text "a chess game" --top 1)" ':0:other"]'
# A version may bring its own preprocess and postprocess (files of the version too).
m model create text2 --max-batch 8 >/dev/null
m model upload text2 "$examples/models/text-classifier.onnx" --promote \
  --vocab "$examples/models/text-vocab.txt" --preprocess '{"tokens":{"type":"text"}}' \
  --postprocess '{"probability":{"sigmoid_threshold":0.5,"labels":["other","library"]}}' >/dev/null
expect "a version's own preprocess" "$(m infer text2 --text "GNU C library" --top 1)" ':1:library"]'
[[ $(status_of m model upload text2 "$examples/models/text-classifier.onnx" --preprocess '[1]') == 2 ]] ||
  fail "--preprocess that is not an object accepted"
[[ $(status_of m model upload text "$examples/models/text-classifier.onnx" --file vocabulary) == 2 ]] ||
  fail "--file without '=' accepted"
[[ $(status_of m model upload text "$examples/models/text-classifier.onnx" --promote) == 1 ]] ||
  fail "a text model without its vocabulary loaded"
expect "missing vocabulary named" "$(cat "$work/out" "$work/err")" "no file 'vocabulary'"
[[ $(status_of m infer raw-cnn --image "$examples/README.md") == 1 ]] || fail "a text file accepted as an image"
expect "not an image, named" "$(cat "$work/err")" "image 0: not a PNG or JPEG"
m model create bad-config --config conv_winograd=yes >/dev/null
[[ $(status_of m model upload bad-config "$examples/models/fashion-cnn.onnx" --promote) == 1 ]] ||
  fail "a model config the backend refuses loaded"
expect "refused config named" "$(cat "$work/out" "$work/err")" "conv_winograd"
[[ $(status_of m model create nothing --config threads) == 2 ]] || fail "--config without '=' accepted"
[[ $(status_of m model create twice --config threads=1 --config threads=2) == 2 ]] ||
  fail "--config setting a key twice accepted"

# Evaluation before promotion (docs/evaluation.md): the held-out sentences and their
# labels as a dataset of raw texts, the text model's gate, a damaged version (its weights'
# rows shuffled) refused with its figures, --force audited.
python3 - "$examples/models" "$work/text-heldout.jsonl" <<'PY'
import json, sys
models, out = sys.argv[1], sys.argv[2]
sentences = open(models + "/text-heldout.txt", encoding="utf-8").read().splitlines()
labels = list(open(models + "/text-heldout.labels.bin", "rb").read())
assert len(sentences) == len(labels) == 12736
with open(out, "w") as f:
    for first in range(0, len(sentences), 64):
        rows = sentences[first:first + 64]
        f.write(json.dumps({"inputs": [{"name": "tokens", "datatype": "BYTES",
                                        "shape": [len(rows)], "data": rows}],
                            "labels": labels[first:first + 64]}) + "\n")
PY
expect "dataset upload" "$(m dataset upload text-heldout "$work/text-heldout.jsonl" --description "held-out")" \
  "199 records (12736 labelled rows"
expect "dataset list" "$(m dataset list)" "text-heldout  199"
expect "dataset show" "$(m --json dataset show text-heldout)" '"description":"held-out"'
expect "model gate" "$(m model gate text --dataset text-heldout --min-accuracy 0.9 --max-accuracy-drop 0.01)" \
  "text: gate on text-heldout: min_accuracy 0.9, max_accuracy_drop 0.01, top_k 5"
out=$(m model evaluate text 1)
expect "evaluate: the seed model passes" "$out" "on dataset text-heldout (report 2): pass"  # 1: the shadow's
expect "evaluate: its accuracy" "$out" "accuracy 0.9356"
expect "evaluate: per class" "$out" "CLASS  SUPPORT  PRECISION  RECALL"
/usr/bin/python3 "$examples/../tests/data/shuffle_weights.py" "$examples/models/text-classifier.onnx" \
  "$work/damaged-text.onnx"
[[ $(status_of m model upload text "$work/damaged-text.onnx" --promote --notes damaged \
  --vocab "$examples/models/text-vocab.txt" --labels "$work/text-labels.txt") == 1 ]] ||
  fail "a damaged version passed the gate"
expect "refused with its figures" "$(cat "$work/err")" "409 gate_failed"
expect "the failing figure" "$(cat "$work/err")" "is below min_accuracy 0.9000"
damaged=$(m --json model versions text | python3 -c 'import json,sys; print([v["version"] for v in json.load(sys.stdin)["versions"] if v["notes"] == "damaged"][0])')
[[ $(status_of m model promote text "$damaged") == 1 ]] || fail "promote passed a refused version"
expect "promote refused" "$(cat "$work/err")" "gate_failed"
expect "reports" "$(m model reports text)" "fail"
expect "reports export as JSON" "$(m --json model reports text --version "$damaged")" '"verdict":"fail"'
expect "model show has the figures" "$(m model show text)" "fail 0."
expect "promote --force" "$(m model promote text "$damaged" --force)" "default -> version $damaged"
out=$(curl -sS --cacert "$MG_CACERT" -H "Authorization: Bearer $MG_KEY" "$MG_SERVER/admin/v1/audit")
expect "--force audited" "$out" '"action":"version.promote_forced","target":"text/'"$damaged"'"'
expect "the audit names the figures" "$out" 'below min_accuracy 0.9000'
expect "back to version 1" "$(m model promote text 1)" "default -> version 1"
expect "gate removed" "$(m model gate text --remove)" "text: no gate"
expect "dataset remove" "$(m dataset remove text-heldout)" "removed"
[[ $(status_of m dataset upload bad "$examples/README.md") == 1 ]] || fail "a text file accepted as a dataset"
expect "a bad dataset named" "$(cat "$work/err")" "record 1: not a JSON object"

# Exit codes: 1 refused by the server (with its code), 2 bad usage, 3 unreachable.
[[ $(status_of m model show nope) == 1 ]] || fail "refusal exit status"
expect "refusal line" "$(cat "$work/err")" "404 model_not_found"
[[ $(status_of m model retire fashion-mlp 2) == 1 ]] || fail "conflict exit status"
expect "conflict line" "$(cat "$work/err")" "409 conflict"
[[ $(status_of m model frobnicate) == 2 ]] || fail "usage exit status"
[[ $(status_of m --server https://localhost:1 model list) == 3 ]] || fail "unreachable exit status"
[[ $(status_of m --cacert /etc/ssl/certs/ca-certificates.crt model list) == 3 ]] || fail "untrusted certificate accepted"
expect "certificate checked" "$(cat "$work/err")" "TLS handshake"
echo "ok   exit codes"

# Tenants and keys: an infer key works at once, sees only infer routes, dies on revoke.
expect "tenant create" "$(m tenant create acme --quota 1000/day)" "created tenant acme"
expect "tenant list" "$(m tenant list)" "1000/day"
out=$(m --json key create --tenant acme --scope infer --rate 50/s --burst 100 --models 'fashion-*' --expires 30d)
key=$(sed -n 's/.*"key":"\([^"]*\)".*/\1/p' <<<"$out")
id=$(sed -n 's/.*"id":"\([^"]*\)".*/\1/p' <<<"$out")
[[ $key == mg_${id}_* ]] || fail "key create --json: $out"
expect "key list" "$(m key list --tenant acme)" "$id"
[[ "$(m key list)" != *"${key:16}"* ]] || fail "key list shows a secret"
expect "infer key infers" "$(MG_KEY=$key m infer fashion-mlp --input "$examples/requests/fashion-mlp.json")" "probabilities"
[[ $(MG_KEY=$key status_of m model list) == 1 ]] || fail "an infer key listed models"
expect "infer key on admin" "$(cat "$work/err")" "403 forbidden"
expect "key revoke" "$(m key revoke "$id")" "revoked key $id"
[[ $(MG_KEY=$key status_of m infer fashion-mlp --input "$examples/requests/fashion-mlp.json") == 1 ]] || fail "revoked key works"
expect "revoked" "$(cat "$work/err")" "401 invalid_key"

# A 200 MB upload streams: neither process holds the file. Peak RSS (VmHWM) of the server
# and maximum RSS of mgctl are compared with the file size.
m model create big >/dev/null
head -c $((200 * 1024 * 1024)) /dev/urandom >"$work/big.bin"
hwm() { sed -n 's/^VmHWM:\s*\([0-9]*\) kB/\1/p' "/proc/$pid/status"; }
server_before=$(hwm)
# mgctl's own baseline (a small request over the same connection code): what linking gRPC,
# or a sanitizer's shadow memory, adds is not the upload's.
/usr/bin/time -f '%M' -o "$work/mgctl.base" "$mgctl" --json model list >/dev/null
client_base_kb=$(tail -1 "$work/mgctl.base")
/usr/bin/time -f '%M' -o "$work/mgctl.rss" "$mgctl" --json model upload big "$work/big.bin" >"$work/big.json"
server_after=$(hwm)
client_kb=$(tail -1 "$work/mgctl.rss")
expect "200 MB upload" "$(cat "$work/big.json")" '"size":209715200'
digest=$(sha256sum "$work/big.bin" | cut -d' ' -f1)
expect "stored under its digest" "$(cat "$work/big.json")" "\"artifact\":\"$digest\""
echo "     server peak RSS ${server_before} kB -> ${server_after} kB; mgctl max RSS ${client_base_kb} kB (model list) -> ${client_kb} kB (upload)"
(( server_after - server_before < 64 * 1024 )) || fail "server memory grew by $((server_after - server_before)) kB"
(( client_kb - client_base_kb < 64 * 1024 )) || fail "mgctl used $((client_kb - client_base_kb)) kB more for the upload"
echo "ok   200 MB upload streamed (memory flat in both processes)"

# Refused before the body: the server answers the head, curl never sends 200 MB.
c() { curl -sS --cacert "$data/tls/cert.pem" "$@"; }
out=$(c -H "Authorization: Bearer $key" -H 'Expect: 100-continue' --data-binary @"$work/big.bin" \
  -w ' sent=%{size_upload}' "$MG_SERVER/admin/v1/models/big/versions")
expect "upload refused unread" "$out" '"code":"invalid_key"'
sent=${out##*sent=}
(( sent < 10 * 1024 * 1024 )) || fail "curl sent $sent bytes of a refused upload"
echo "ok   refused upload: $sent bytes sent"
# curl as an upload client too.
out=$(c -H "Authorization: Bearer $MG_KEY" --data-binary @"$examples/models/fashion-mlp.onnx" \
  "$MG_SERVER/admin/v1/models/big/versions?notes=curl%20upload")
expect "curl upload" "$out" '"notes":"curl upload"'
# An upload cut off midway leaves no version and no temp file.
curl -sS --cacert "$data/tls/cert.pem" -H "Authorization: Bearer $MG_KEY" --limit-rate 2M \
  --data-binary @"$work/big.bin" "$MG_SERVER/admin/v1/models/big/versions" >/dev/null 2>&1 &
upload=$!
# Up to 10 s for the upload to start (a loaded ASan server may take seconds over the TLS
# handshake and the key check); at 2 MB/s it then runs for 100 s.
for _ in $(seq 1 100); do [[ -n "$(ls "$data/artifacts/tmp")" ]] && break; sleep 0.1; done
[[ -n "$(ls "$data/artifacts/tmp")" ]] || fail "no temp file during an upload"
kill "$upload"; wait "$upload" 2>/dev/null || true
for _ in $(seq 1 50); do [[ -z "$(ls "$data/artifacts/tmp")" ]] && break; sleep 0.1; done
[[ -z "$(ls "$data/artifacts/tmp")" ]] || fail "an interrupted upload left a temp file"
expect "no version from the interrupted upload" "$(m model versions big)" "curl upload"
[[ $(m --json model versions big | grep -o '"version":' | wc -l) == 2 ]] || fail "version count"
echo "ok   interrupted upload left nothing"

# Signed models: mgctl sign works offline; a model that requires a signature refuses an
# unsigned upload and takes a signed one from a trusted signer.
openssl genpkey -algorithm ed25519 -out "$work/release.pem" 2>/dev/null
openssl pkey -in "$work/release.pem" -pubout -out "$work/release.pub"
MG_SERVER=https://localhost:1 m sign "$examples/models/fashion-mlp.onnx" --key "$work/release.pem" \
  >"$work/mlp.sig"  # no server needed
expect "signature file" "$(cat "$work/mlp.sig")" "algorithm ed25519"
expect "signer add" "$(m signer add release "$work/release.pub")" "trusted signer release added"
expect "signer list" "$(m signer list)" "release"
m model create secure --require-signature >/dev/null
[[ $(status_of m model upload secure "$examples/models/fashion-mlp.onnx") == 1 ]] || fail "unsigned upload accepted"
expect "unsigned refused" "$(cat "$work/err")" "requires a signature"
expect "signed upload" "$(m model upload secure "$examples/models/fashion-mlp.onnx" \
  --signature "$work/mlp.sig" --promote)" "version 1 (ready, default)"
# A signed model's files are signed too (--file-signature NAME=FILE.sig).
m model create secure-text --require-signature --config 'preprocess={"tokens":{"type":"text"}}' >/dev/null
m sign "$examples/models/text-classifier.onnx" --key "$work/release.pem" >"$work/text.sig"
m sign "$examples/models/text-vocab.txt" --key "$work/release.pem" >"$work/vocab.sig"
[[ $(status_of m model upload secure-text "$examples/models/text-classifier.onnx" \
  --signature "$work/text.sig" --vocab "$examples/models/text-vocab.txt") == 1 ]] ||
  fail "an unsigned vocabulary accepted for a signed model"
expect "unsigned file refused" "$(cat "$work/err")" "the file 'vocabulary'"
expect "signed files" "$(m model upload secure-text "$examples/models/text-classifier.onnx" \
  --signature "$work/text.sig" --vocab "$examples/models/text-vocab.txt" \
  --file-signature vocabulary="$work/vocab.sig" --promote)" "version 1 (ready, default)"
expect "signer remove" "$(m signer remove release)" "signer release removed"

stop_modelgate
echo "mgctl_test: all passed"
