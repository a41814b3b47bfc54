# server_helpers.bash - helpers for the tests/e2e/server_*.sh scripts (sourced after lib.sh;
# named .bash so ctest does not run it as a test). A real `sotto serve` on 127.0.0.1 with a
# free port (port 0, read back from its "listening" log line), a real SQLite data dir under
# $TMP, and curl for every request.
DATA=$TMP/data
SRV_PID=
SRV_LOG=$TMP/server.log
srv_kill() { if [ -n "$SRV_PID" ]; then kill -9 "$SRV_PID" 2>/dev/null || true; wait "$SRV_PID" 2>/dev/null || true; SRV_PID=; fi; }
trap 'srv_kill; [ -n "${KEEP:-}" ] && cp "$SRV_LOG" /tmp/last-server.log; rm -rf "$TMP"' EXIT
# srv_start [serve options...]: start and wait for the listening line; sets URL and PORT
srv_start() {
  : > "$SRV_LOG"
  "$SOTTO" serve --listen 127.0.0.1:0 --data "$DATA" "$@" 2>>"$SRV_LOG" &
  SRV_PID=$!
  for _ in $(seq 100); do
    grep -aq '"msg":"listening"' "$SRV_LOG" && break
    kill -0 "$SRV_PID" 2>/dev/null || fail "server exited: $(cat "$SRV_LOG")"
    sleep 0.1
  done
  PORT=$(grep -ao '"msg":"listening"[^}]*"port":[0-9]*' "$SRV_LOG" | tail -1 | grep -o '[0-9]*$')
  [ -n "$PORT" ] || fail "no listening line: $(cat "$SRV_LOG")"
  URL=http://127.0.0.1:$PORT
}
# srv_stop: SIGTERM and wait for a clean exit (status 0)
srv_stop() {
  kill -TERM "$SRV_PID"
  local rc=0
  wait "$SRV_PID" || rc=$?
  SRV_PID=
  [ "$rc" -eq 0 ] || fail "server exited $rc after SIGTERM: $(tail -20 "$SRV_LOG")"
}
# mkuser NAME [--admin]: create a user in $DATA and print a new key
mkuser() {
  "$SOTTO" user add "$1" ${2:-} --data "$DATA" 2>/dev/null
  "$SOTTO" key new "$1" --data "$DATA" 2>/dev/null
}
# req KEY METHOD PATH [curl args...]: body -> $TMP/body, headers -> $TMP/hdr, status -> $STATUS
req() {
  local key=$1 method=$2 path=$3; shift 3
  local auth=()
  [ -n "$key" ] && auth=(-H "Authorization: Bearer $key")
  STATUS=$(curl -sS -o "$TMP/body" -D "$TMP/hdr" -w '%{http_code}' -X "$method" "${auth[@]}" "$@" "$URL$path")
}
# expect CODE: check $STATUS; on failure show the body
expect() { [ "$STATUS" = "$1" ] || fail "expected HTTP $1, got $STATUS: $(cat "$TMP/body")"; }
# jget PY_EXPR: evaluate an expression over the JSON body bound to d
jget() { $PY -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$TMP/body"; }
# jcheck PY_ASSERTION [message]
jcheck() { $PY -c "import json,sys; d=json.load(open(sys.argv[1])); assert $1, d" "$TMP/body" 2>"$TMP/pyerr" || fail "${2:-$1}: $(tail -1 "$TMP/pyerr")"; }
# error_shape CODE: the JSON error body, with the request id equal to the X-Request-Id header
error_shape() {
  expect "$1"
  local rid
  rid=$(grep -i '^x-request-id:' "$TMP/hdr" | tr -d '\r' | awk '{print $2}')
  [ -n "$rid" ] || fail "no X-Request-Id header"
  jcheck "set(d['error']) >= {'code','message','request_id'} and d['error']['request_id'] == '$rid'" "error shape for $1"
  grep -q "$DATA" "$TMP/body" && fail "server path leaked: $(cat "$TMP/body")"
  return 0
}
# wait_job KEY ID STATUS [seconds]: poll until the job has STATUS
wait_job() {
  local t=${4:-60}
  for _ in $(seq $((t * 5))); do
    req "$1" GET "/v1/jobs/$2"
    [ "$STATUS" = 200 ] && [ "$(jget "d['status']")" = "$3" ] && return 0
    sleep 0.2
  done
  fail "job $2 did not reach $3: $(cat "$TMP/body")"
}
