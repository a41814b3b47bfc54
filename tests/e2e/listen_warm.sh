#!/usr/bin/env bash
# Proves: `sotto serve --warm-streams N` listens at once and warms PocketSphinx stream
# decoders in the background: it logs "warmed N sphinx stream decoders in X s", and a
# /v1/listen stream (real WebSocket, tests/tools/ws_client) then works and is recognized;
# --warm-streams 0 warms nothing; a bad value (flag, config key warm_streams, environment
# SOTTO_WARM_STREAMS) is a usage error naming it; SIGTERM while a big warm-up
# is under way stops the server promptly and cleanly (the warm-up stops between decoders).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_helpers.bash"
WS=${SOTTO_BUILD:?run through ctest}/tools/ws_client
[ -x "$WS" ] || fail "no $WS (build target tool_ws_client)"
command -v sox >/dev/null || fail "sox is required"

expect_exit 2 "$SOTTO" serve --warm-streams -1
grep -q "warm-streams" "$TMP/err" || fail "no message naming --warm-streams: $(cat "$TMP/err")"
expect_exit 2 "$SOTTO" serve --warm-streams 257
echo '{"warm_streams": 300}' > "$TMP/bad.json"
expect_exit 2 "$SOTTO" serve --config "$TMP/bad.json" --data "$TMP/d0"
grep -q "warm_streams" "$TMP/err" || fail "config error does not name warm_streams: $(cat "$TMP/err")"
SOTTO_WARM_STREAMS=many expect_exit 2 "$SOTTO" serve --data "$TMP/d0"
grep -q "SOTTO_WARM_STREAMS" "$TMP/err" || fail "env error does not name SOTTO_WARM_STREAMS: $(cat "$TMP/err")"

sox -n -r 16000 -c 1 -b 16 "$TMP/sil.wav" trim 0 1.0
sox "$TMP/sil.wav" "$FX/utt_01_slt.wav" "$TMP/sil.wav" "$TMP/speech.wav"

K=$(mkuser alice)
srv_start --warm-streams 2
for _ in $(seq 600); do
  grep -aq 'warmed 2 sphinx stream decoders in' "$SRV_LOG" && break
  kill -0 "$SRV_PID" 2>/dev/null || fail "server exited: $(cat "$SRV_LOG")"
  sleep 0.1
done
grep -aq 'warmed 2 sphinx stream decoders in [0-9.]* s' "$SRV_LOG" || fail "no warm line: $(cat "$SRV_LOG")"
grep -a '"level":"warn"' "$SRV_LOG" | grep -q 'stream decoders' && fail "warm-up warnings: $(grep -a warn "$SRV_LOG")"

"$WS" --url "ws://127.0.0.1:$PORT/v1/listen?api_key=$K" --start '{"policy":"native"}' \
  "$TMP/speech.wav" > "$TMP/ev.jsonl" || fail "stream failed: $(tail -3 "$TMP/ev.jsonl")"
$PY - "$TMP/ev.jsonl" "$FX/utt_01_slt.txt" <<'PY' || fail "events: $(grep -v partial "$TMP/ev.jsonl" | head -20)"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
types = [e['type'] for e in ev]
assert types[0] == 'ready' and 'done' in types and 'error' not in types, types
hyp = ' '.join(e['text'] for e in ev if e['type'] == 'final').lower().split()
ref = open(sys.argv[2]).read().lower().replace(',', '').replace('.', '').split()
# most words of the utterance (PocketSphinx on flite: about 20% WER)
hit = sum(1 for w in ref if w in hyp)
assert hit * 2 >= len(ref), (ref, hyp)
PY
srv_stop

# --warm-streams 0: nothing warmed
srv_start --warm-streams 0
"$WS" --url "ws://127.0.0.1:$PORT/v1/listen?api_key=$K" "$TMP/sil.wav" > /dev/null || fail "silence stream failed"
srv_stop
grep -aq 'warmed' "$SRV_LOG" && fail "warmed with --warm-streams 0: $(cat "$SRV_LOG")"

# SIGTERM during a long warm-up: a prompt, clean stop
srv_start --warm-streams 200
sleep 1
t0=$(date +%s.%N)
srv_stop
$PY -c "import sys; d = float(sys.argv[2]) - float(sys.argv[1]); assert d < 20, d" "$t0" "$(date +%s.%N)" \
  || fail "stopping during the warm-up took too long"
grep -aq 'warmed 200' "$SRV_LOG" && fail "200 decoders warmed in a second?"
echo ok
