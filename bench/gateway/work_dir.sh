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
