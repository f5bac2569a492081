#!/usr/bin/env bash
# A signed ModelGate request with nothing but openssl and curl (MG1-HMAC-SHA256):
# usage: MG_KEY=mg_… mg_signed_curl.sh METHOD URL BODY_FILE [curl options…]  (no body: /dev/null)
set -euo pipefail
method=$1 url=$2 body=$3; shift 3
target=/${url#*://*/}                                   # path and query, exactly as sent
ts=$(date +%s) nonce=$(openssl rand -hex 16)
hash=$(openssl dgst -sha256 -r <"$body" | cut -d' ' -f1)
sig=$(printf 'MG1-HMAC-SHA256\n%s\n%s\n%s\n%s\n%s' "$method" "$target" "$ts" "$nonce" "$hash" |
  openssl dgst -sha256 -hmac "$MG_KEY" -r | cut -d' ' -f1)
exec curl -sS -X "$method" --data-binary @"$body" -H "X-MG-Key-Id: $(cut -c4-15 <<<"$MG_KEY")" \
  -H "X-MG-Timestamp: $ts" -H "X-MG-Nonce: $nonce" -H "X-MG-Signature: $sig" "$@" "$url"
