#!/usr/bin/env bash
# Proves: bad input on /v1/listen gets an error event, never a crash: an odd byte count
# for s16le, a text frame that is not JSON, an unknown message type, a start message after
# the start, a ping (answered with pong and its id), an unknown encoding, bad query
# parameters (error then close 1008), an oversized frame (error then close 1009), and the
# stream limit (SOTTO_MAX_STREAMS: error then close 1013). The stream still recognizes
# the audio sent after the bad frames, and the server stays healthy throughout. `ready`
# names the policy the stream runs (auto resolved to native for sphinx), and /metrics
# counts the streams (limit, live slots, started) the same way.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_helpers.bash"
WS=${SOTTO_BUILD:?run through ctest}/tools/ws_client
[ -x "$WS" ] || fail "no $WS (build target tool_ws_client)"

K=$(mkuser alice)
export SOTTO_MAX_STREAMS=2
srv_start
U="ws://127.0.0.1:$PORT/v1/listen?api_key=$K"
UTT=$FX/utt_01_slt.wav

"$WS" --url "$U" --inject bin:3 --inject 'text:hello' --inject 'text:{"type":"dance"}' \
  --inject 'text:{"type":"start"}' --inject 'text:{"type":"ping","id":"p1"}' --inject 'text:[1,2' \
  --inject 'text:{"type":"start","policy":"native"' --inject 'text:{"type":"flush"}' "$UTT" > "$TMP/ev.jsonl" || fail "stream: $(cat "$TMP/ev.jsonl")"
$PY - "$TMP/ev.jsonl" "$FX/utt_01_slt.txt" <<'EOF' || fail "malformed frames: $(grep -v partial "$TMP/ev.jsonl" | head -20)"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
errs = [e for e in ev if e['type'] == 'error']
msgs = ' | '.join(e['message'] for e in errs)
assert any('s16le frames must hold whole samples' in e['message'] and e['code'] == 'invalid_audio' for e in errs), msgs
assert any("unknown message type 'dance'" in e['message'] for e in errs), msgs
assert any('already started' in e['message'] for e in errs), msgs
assert sum(1 for e in errs if e['code'] == 'invalid_message') == 5, msgs
assert any(e['type'] == 'pong' and e.get('id') == 'p1' for e in ev)
ready = [e for e in ev if e['type'] == 'ready']
assert len(ready) == 1 and ready[0]['policy'] == 'native', ready
finals = ' '.join(e['text'] for e in ev if e['type'] == 'final').split()
ref = open(sys.argv[2]).read().split()
assert sum(1 for w in finals if w in ref) >= len(ref) // 2, (finals, ref)
assert ev[-1]['type'] == 'close' and ev[-1]['code'] == 1000
EOF

# oversized frame: error, then close 1009
"$WS" --url "$U" --inject bin:2000000 "$UTT" > "$TMP/big.jsonl" 2>/dev/null || true
grep -q '"code":"frame_too_large"' "$TMP/big.jsonl" || fail "oversized: $(cat "$TMP/big.jsonl")"
grep -q '"type":"close","code":1009' "$TMP/big.jsonl" || fail "oversized close: $(cat "$TMP/big.jsonl")"

# bad query parameters, an unknown encoding, an unknown model: error then close 1008
for q in "sample_rate=12" "policy=magic" "colour=blue" "encoding=xml" "model=gpt"; do
  "$WS" --url "$U&$q" "$UTT" > "$TMP/q.jsonl" 2>/dev/null || true
  grep -q '"type":"error"' "$TMP/q.jsonl" || fail "$q: no error event: $(cat "$TMP/q.jsonl")"
  grep -q '"type":"close","code":1008' "$TMP/q.jsonl" || fail "$q: no close 1008: $(cat "$TMP/q.jsonl")"
done
"$WS" --url "$U&encoding=xml" "$UTT" 2>/dev/null | grep -q "'encoding' must be json or msgpack" || fail "a bad encoding not refused clearly"

# f32le with a NaN sample and a size that is not a multiple of 4
"$WS" --url "$U&format=f32le" --format f32le --inject bin:6 "$UTT" > "$TMP/f.jsonl" || fail "f32 stream"
grep -q 'f32le frames must hold whole samples' "$TMP/f.jsonl" || fail "f32le odd size: $(head -5 "$TMP/f.jsonl")"

# the stream limit: 2 allowed, the third is refused with 1013
sox -n -r 16000 -c 1 -b 16 "$TMP/long.wav" synth 6 pinknoise vol 0.01
"$WS" --url "$U" --realtime --streams 3 "$TMP/long.wav" > "$TMP/lim.jsonl" 2>/dev/null || true
[ "$(grep -c '"code":"too_many_streams"' "$TMP/lim.jsonl")" = 1 ] || fail "limit: $(grep -v stats "$TMP/lim.jsonl")"
grep -q '"type":"close","code":1013' "$TMP/lim.jsonl" || fail "limit close: $(grep close "$TMP/lim.jsonl")"
[ "$(grep -c '"type":"done"' "$TMP/lim.jsonl")" = 2 ] || fail "the two allowed streams did not finish"

# /metrics: the limit as applied, no slot held once every connection has closed, and the
# streams that started: the first one, the oversized frame's (ws_client sends it after
# ready), the f32le one and the two allowed of three; the bad queries never started
# one
for i in $(seq 50); do
  req "" GET /metrics; expect 200
  grep -q '^sotto_listen_streams 0$' "$TMP/body" && break
  sleep 0.2
done
grep -q '^sotto_listen_streams 0$' "$TMP/body" || fail "metrics: slots still held: $(grep listen "$TMP/body")"
grep -q '^sotto_listen_streams_limit 2$' "$TMP/body" || fail "metrics limit: $(grep listen "$TMP/body")"
grep -q '^sotto_listen_streams_started_total 5$' "$TMP/body" || fail "metrics started: $(grep listen "$TMP/body")"
grep -q '^# TYPE sotto_listen_streams_started_total counter$' "$TMP/body" || fail "metrics type"

req "" GET /health; expect 200
kill -0 "$SRV_PID" || fail "server died"
srv_stop
echo "ok"
