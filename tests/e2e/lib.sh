# lib.sh - shared helpers for the end-to-end tests (sourced, not a test itself).
# Each test gets SOTTO (the binary), SOTTO_FIXTURES (generated speech) from ctest.
set -euo pipefail
: "${SOTTO:?run through ctest}" "${SOTTO_FIXTURES:?run through ctest}"
FX=$SOTTO_FIXTURES
TMP=$(mktemp -d /tmp/sotto-e2e.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
PY=/usr/bin/python3
fail() { echo "FAIL: $*" >&2; exit 1; }
# expect_exit CODE CMD... : run CMD, capture stdout/stderr in $TMP/out $TMP/err, check code
expect_exit() {
  local want=$1; shift
  set +e
  "$@" >"$TMP/out" 2>"$TMP/err"
  local got=$?
  set -e
  [ "$got" -eq "$want" ] || fail "'$*' exited $got, expected $want; stderr: $(cat "$TMP/err")"
}
