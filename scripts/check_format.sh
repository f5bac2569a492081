#!/usr/bin/env bash
# Fails when any C/C++ file of the project differs from clang-format's output
# (.clang-format: Google base, 100 columns). Fix with: scripts/check_format.sh --fix
set -euo pipefail
fix=0
if [[ "${1:-}" == "--fix" ]]; then fix=1; shift; fi
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"
mapfile -t files < <(find sdk registry gateway plugins admin tests bench examples \
  -type f \( -name '*.c' -o -name '*.h' -o -name '*.cpp' -o -name '*.hpp' -o -name '*.cc' \) \
  2>/dev/null | sort)
((${#files[@]} > 0)) || { echo "no sources found under $root"; exit 1; }
if ((fix)); then
  clang-format -i "${files[@]}"
  echo "formatted ${#files[@]} files"
else
  clang-format --dry-run --Werror "${files[@]}"
  echo "clang-format: ${#files[@]} files clean"
fi
