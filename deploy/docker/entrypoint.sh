#!/bin/sh
# Container entrypoint (also usable by hand): initialise the data dir once, import the
# seed models once if asked, then exec `modelgate serve` with the arguments given.
#   MODELGATE_DATA_DIR         data dir (default /var/lib/modelgate; a volume)
#   MODELGATE_MASTER_KEY_FILE  a 64-hex-character master key (a Kubernetes/compose secret),
#                              copied into a data dir that has none yet; once there it is
#                              the data dir's key, rotated with `modelgate rotate-master-key`
#   MODELGATE_SEED_MODELS=1    import and promote the three seed models on first start
#   MODELGATE_SEED_DIR         where their .onnx files are (default /usr/local/share/modelgate/models)
set -eu
data=${MODELGATE_DATA_DIR:-/var/lib/modelgate}
seeds=${MODELGATE_SEED_DIR:-/usr/local/share/modelgate/models}
mkdir -p "$data"
if [ -n "${MODELGATE_MASTER_KEY_FILE:-}" ] && [ ! -f "$data/master.key" ]; then
  key=$(tr -d ' \n\r' <"$MODELGATE_MASTER_KEY_FILE")
  case $key in
    *[!0-9a-fA-F]* | "") key= ;;
  esac
  if [ ${#key} -ne 64 ]; then
    echo "modelgate-entrypoint: $MODELGATE_MASTER_KEY_FILE is not 64 hex characters" >&2
    exit 2
  fi
  (umask 077 && printf '%s\n' "$key" >"$data/master.key.tmp")
  mv "$data/master.key.tmp" "$data/master.key"
fi
modelgate init --data-dir "$data"
if [ "${MODELGATE_SEED_MODELS:-0}" = 1 ]; then
  for model in fashion-mlp fashion-cnn text-classifier; do
    [ -f "$data/.seeded-$model" ] && continue
    modelgate import --data-dir "$data" "$model" "$seeds/$model.onnx" \
      --config '{"max_batch_size": 64}' --promote
    touch "$data/.seeded-$model"
  done
fi
exec modelgate serve --data-dir "$data" "$@"
