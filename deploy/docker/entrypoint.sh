#!/bin/sh
# Container entrypoint (also usable by hand): initialise the data dir once, import the
# seed models once if asked, then exec `modelgate serve` with the arguments given.
#   MODELGATE_DATA_DIR         data dir (default /var/lib/modelgate; a volume)
#   MODELGATE_MASTER_KEY_FILE  a 64-hex-character master key (a Kubernetes/compose secret),
#                              copied into a data dir that has none yet; once there it is
#                              the data dir's key, rotated with `modelgate rotate-master-key`
#   MODELGATE_SEED_MODELS=1    import and promote the three seed models on first start
#   MODELGATE_SEED_DIR         where their .onnx files are (default /usr/local/share/modelgate/models)
#   MODELGATE_POSTGRES_URL     cluster mode: the registry in this PostgreSQL; the data dir is
#                              then only this replica's cache and the master key is read
#                              where MODELGATE_MASTER_KEY_FILE is mounted (never copied)
#   MODELGATE_REDIS_URL        cluster mode: rate limits, quotas and nonces shared through Redis
set -eu
data=${MODELGATE_DATA_DIR:-/var/lib/modelgate}
seeds=${MODELGATE_SEED_DIR:-/usr/local/share/modelgate/models}
mkdir -p "$data"
if [ -n "${MODELGATE_POSTGRES_URL:-}" ]; then
  # Cluster mode: the first replica to start creates the catalogue and its admin key (in
  # its data dir: fetch it with kubectl cp or read the log); the others only their dir.
  set -- --postgres "$MODELGATE_POSTGRES_URL" --master-key "$MODELGATE_MASTER_KEY_FILE" "$@"
  [ -n "${MODELGATE_REDIS_URL:-}" ] && set -- --redis "$MODELGATE_REDIS_URL" "$@"
  modelgate init --data-dir "$data" --postgres "$MODELGATE_POSTGRES_URL" \
    --master-key "$MODELGATE_MASTER_KEY_FILE"
  exec modelgate serve --data-dir "$data" "$@"
fi
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
