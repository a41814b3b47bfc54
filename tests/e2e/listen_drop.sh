#!/usr/bin/env bash
# Proves: a client that drops its WebSocket mid-utterance loses nothing: the audio already
# received is finished on the server and the tail's final is saved to the session; a
# client that reconnects at once with the same session id continues that session (its
# ready event's offset is the session's last end, new finals come after the old ones in
# order and in time); a session id of another user is refused; a stream of the server
# that is stopping (SIGTERM) still saves its tail before the process exits.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_helpers.bash"
WS=${SOTTO_BUILD:?run through ctest}/tools/ws_client
[ -x "$WS" ] || fail "no $WS (build target tool_ws_client)"

sox -n -r 16000 -c 1 -b 16 "$TMP/sil.wav" trim 0 1.0
sox "$TMP/sil.wav" "$FX/utt_01_slt.wav" "$TMP/sil.wav" "$FX/utt_04_slt.wav" "$TMP/drop.wav"
D1=$(soxi -D "$FX/utt_01_slt.wav"); D4=$(soxi -D "$FX/utt_04_slt.wav")
# drop when 70% of the second utterance has been sent
CUT=$($PY -c "print(round(2.0 + $D1 + 0.7 * $D4, 2))")
sox "$TMP/sil.wav" "$FX/utt_06_kal16.wav" "$TMP/sil.wav" "$TMP/again.wav"

K=$(mkuser alice)
K2=$(mkuser bob)
srv_start
WSURL=ws://127.0.0.1:$PORT/v1/listen?api_key=$K

"$WS" --url "$WSURL" --realtime --start '{"policy":"native"}' --drop-after "$CUT" "$TMP/drop.wav" \
  > "$TMP/ev1.jsonl" || fail "first stream: $(tail -3 "$TMP/ev1.jsonl")"
grep -q '"type":"client_drop"' "$TMP/ev1.jsonl" || fail "the client did not drop"
SID=$($PY -c "import json,sys; print(json.loads(open(sys.argv[1]).readline())['session_id'])" "$TMP/ev1.jsonl")
N_SEEN=$(grep -c '"type":"final"' "$TMP/ev1.jsonl" || true)

# reconnect at once with the same session (the server finishes the old tail first)
"$WS" --url "$WSURL" --realtime --start "{\"policy\":\"native\",\"session_id\":\"$SID\"}" "$TMP/again.wav" \
  > "$TMP/ev2.jsonl" &
WS2PID=$!
# and a stream the server will be stopped under (checked at the end), started now: its
# 9 s of real time pass while the reconnect runs, instead of after it
"$WS" --url "$WSURL" --realtime --start '{"policy":"native"}' "$TMP/drop.wav" > "$TMP/ev4.jsonl" 2>/dev/null &
WSPID=$!
T4=$($PY -c 'import time; print(time.monotonic())')
wait "$WS2PID" || fail "second stream: $(tail -3 "$TMP/ev2.jsonl")"

req "$K" GET "/v1/sessions/$SID/messages"; expect 200
cp "$TMP/body" "$TMP/msgs.json"
$PY - "$TMP/msgs.json" "$TMP/ev1.jsonl" "$TMP/ev2.jsonl" "$FX/utt_01_slt.txt" "$FX/utt_04_slt.txt" "$FX/utt_06_kal16.txt" "$N_SEEN" <<'EOF' \
  || fail "session after drop and reconnect: $(head -c 1500 "$TMP/msgs.json")"
import json, sys
msgs = json.load(open(sys.argv[1]))['data']
ev1 = [json.loads(l) for l in open(sys.argv[2])]
ev2 = [json.loads(l) for l in open(sys.argv[3])]
ref = [open(p).read().split() for p in sys.argv[4:7]]
seen = int(sys.argv[7])
texts = [m['content'].split() for m in msgs]
print('messages:', [m['content'] for m in msgs], 'seen before the drop:', seen)
# utterance 1, the dropped tail of utterance 2, and utterance 3 from the reconnect
assert len(msgs) >= 3, len(msgs)
def overlap(words, ref):
    return sum(1 for w in words if w in ref) / max(1, len(words))
tail = [m for m in msgs if m['end'] <= ev2[0]['offset'] + 1e-3]
assert len(tail) > seen, 'the tail after the drop was saved'
tail_words = sum((m['content'].split() for m in tail[seen:]), [])
assert overlap(tail_words, ref[1]) >= 0.6 and len(tail_words) >= 3, tail_words
# times continue: the reconnect's offset is the last end before it; messages in order
assert ev2[0]['type'] == 'ready' and ev2[0]['session_id'] == msgs[0]['session_id']
assert abs(ev2[0]['offset'] - max(m['end'] for m in tail)) < 1e-3, (ev2[0]['offset'], tail[-1])
new = [m for m in msgs if m['start'] >= ev2[0]['offset'] - 1e-3]
assert new and overlap(sum((m['content'].split() for m in new), []), ref[2]) >= 0.6, new
assert all(a['end'] <= b['start'] + 1e-3 for a, b in zip(msgs, msgs[1:])), 'times increase'
assert [m['seq'] for m in msgs] == list(range(1, len(msgs) + 1))
f2 = [e for e in ev2 if e['type'] == 'final']
assert f2 and all(e['start'] >= ev2[0]['offset'] - 1e-3 for e in f2), 'event times are session times'
EOF

# another user's session id is refused with an error event
"$WS" --url "ws://127.0.0.1:$PORT/v1/listen?api_key=$K2" --start "{\"session_id\":\"$SID\"}" "$TMP/again.wav" \
  > "$TMP/ev3.jsonl" 2>/dev/null || true
grep -q '"code":"session_not_found"' "$TMP/ev3.jsonl" || fail "foreign session: $(cat "$TMP/ev3.jsonl")"

# stopping the server while a client is mid-utterance: the tail is still saved
# (sleep until 85% into the stream's second utterance, counted from its start above)
sleep "$($PY -c "import time; print(max(0.0, $T4 + $CUT + 0.6 - time.monotonic()))")"
kill -0 "$WSPID" 2>/dev/null || fail "the stream ended before the server was stopped: $(tail -3 "$TMP/ev4.jsonl")"
srv_stop
wait "$WSPID" 2>/dev/null || true
SID4=$($PY -c "import json,sys; print(json.loads(open(sys.argv[1]).readline())['session_id'])" "$TMP/ev4.jsonl")
srv_start
req "$K" GET "/v1/sessions/$SID4/messages"; expect 200
jcheck "len(d['data']) >= 2" "tail saved while the server stopped"
srv_stop
echo "ok"
