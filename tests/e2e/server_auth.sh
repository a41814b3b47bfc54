#!/usr/bin/env bash
# Proves: API keys guard every /v1 route: no key, a bad key and a revoked key are 401 with
# the JSON error shape; Bearer and X-API-Key both work; /health needs no key; only an admin
# key manages users (403 otherwise); --auth off is refused off loopback; a bad config file
# is a clear start-up error naming the key.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_helpers.bash"
ADMIN=$(mkuser root --admin)
BOB=$(mkuser bob)
[ "$(echo "$BOB" | wc -l)" = 1 ] && [[ "$BOB" == sk-sotto-* ]] || fail "key new output: $BOB"
srv_start
req "" GET /v1/models; error_shape 401
req "sk-sotto-not-a-real-key" GET /v1/models; error_shape 401
req "" GET /v1/models -H "X-API-Key: nope"; error_shape 401
req "$BOB" GET /v1/models; expect 200
jcheck "any(m['id'] == 'sphinx' for m in d['data'])" "models list"
req "" GET /v1/models -H "X-API-Key: $BOB"; expect 200
req "" GET /health; expect 200
# revoke by prefix with the CLI while the server runs
"$SOTTO" key revoke "${BOB:0:17}" --data "$DATA" 2>/dev/null || fail "key revoke"
req "$BOB" GET /v1/models; error_shape 401
# admin endpoints
BOB2=$("$SOTTO" key new bob --data "$DATA" 2>/dev/null)
req "$BOB2" POST /v1/users -d '{"name":"eve"}'; error_shape 403
req "$ADMIN" POST /v1/users -d '{"name":"eve"}'; expect 201
req "$ADMIN" POST /v1/users/eve/keys; expect 201
EVE=$(jget "d['key']")
req "$EVE" GET /v1/jobs; expect 200
req "$ADMIN" POST /v1/users -d '{"name":"eve"}'; error_shape 409
req "$ADMIN" POST /v1/users/nobody/keys; error_shape 404
# unknown route and wrong method keep the shape
req "$EVE" GET /v1/nothing; error_shape 404
req "$EVE" PUT /v1/jobs; error_shape 405
srv_stop
# --auth off: only on loopback
expect_exit 2 "$SOTTO" serve --listen 0.0.0.0:0 --data "$DATA" --auth off
grep -q "loopback" "$TMP/err" || fail "auth off message: $(cat "$TMP/err")"
srv_start --auth off
req "" GET /v1/jobs; expect 200
srv_stop
# config file validation
echo '{"listen": "127.0.0.1:0", "limits": {"max_queue": 5, "bogus": 1}}' > "$TMP/bad.json"
expect_exit 2 "$SOTTO" serve --data "$DATA" --config "$TMP/bad.json"
grep -q "unknown key 'limits.bogus'" "$TMP/err" || fail "config message: $(cat "$TMP/err")"
echo '{"listen": 8080}' > "$TMP/bad2.json"
expect_exit 2 "$SOTTO" serve --data "$DATA" --config "$TMP/bad2.json"
grep -q "'listen' must be a non-empty string" "$TMP/err" || fail "config type message: $(cat "$TMP/err")"
echo '{"listen": "127.0.0.1:0",' > "$TMP/bad3.json"
expect_exit 2 "$SOTTO" serve --data "$DATA" --config "$TMP/bad3.json"
grep -q "bad3.json" "$TMP/err" || fail "config syntax message: $(cat "$TMP/err")"
echo "ok"
