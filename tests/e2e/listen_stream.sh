#!/usr/bin/env bash
# Proves: GET /v1/listen over a real WebSocket (tests/tools/ws_client) with a real server
# and PocketSphinx: a stream of four fixture utterances with silence between, paced in
# real time, yields finals in order whose text is within two words (of 38) of batch
# transcription of the same audio; every final is in the session (GET messages) with its
# times; the same audio sent as 48 kHz f32le (resampled by the server) is recognized as
# well; silence-only and noise-only streams produce no text; a plain GET is 426; without a
# key the upgrade is refused (401) and ?api_key= works.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_helpers.bash"
WS=${SOTTO_BUILD:?run through ctest}/tools/ws_client
[ -x "$WS" ] || fail "no $WS (build target tool_ws_client)"
command -v sox >/dev/null || fail "sox is required"

# four utterances, 1.5 s of silence before, between and after
parts=()
sox -n -r 16000 -c 1 -b 16 "$TMP/sil.wav" trim 0 1.5
: > "$TMP/ref.txt"
for u in 01_slt 04_slt 06_kal16 08_rms; do
  parts+=("$TMP/sil.wav" "$FX/utt_$u.wav")
  cat "$FX/utt_$u.txt" >> "$TMP/ref.txt"; echo >> "$TMP/ref.txt"
done
parts+=("$TMP/sil.wav")
sox "${parts[@]}" "$TMP/speech.wav"
# batch transcription of the same audio, for the WER comparison below: it runs while the
# real-time stream mostly waits on the clock
"$SOTTO" transcribe "$TMP/speech.wav" > "$TMP/batch.txt" 2>/dev/null &
BATCH_PID=$!

K=$(mkuser alice)
srv_start
WSURL=ws://127.0.0.1:$PORT/v1/listen

# plain GET: 426; upgrade without a key: refused; a wrong key: refused
req "$K" GET /v1/listen; expect 426
"$WS" --url "$WSURL" "$TMP/sil.wav" > "$TMP/noauth.out" 2> "$TMP/noauth.err" && fail "upgrade without a key was accepted"
"$WS" --url "$WSURL?api_key=sk-wrong" "$TMP/sil.wav" > /dev/null 2>&1 && fail "a wrong key was accepted"

# the speech stream, real time, native policy
"$WS" --url "$WSURL?api_key=$K&model=sphinx" --realtime --start '{"policy":"native","language":"en"}' \
  "$TMP/speech.wav" > "$TMP/ev.jsonl" || fail "stream failed: $(tail -3 "$TMP/ev.jsonl")"
$PY - "$TMP/ev.jsonl" "$TMP/finals.txt" <<'EOF' || fail "events: $(grep -v partial "$TMP/ev.jsonl" | head -20)"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
types = [e['type'] for e in ev]
assert types[0] == 'ready', types[:3]
assert types[-2:] == ['done', 'close'] and ev[-1]['code'] == 1000, types[-3:]
finals = [e for e in ev if e['type'] == 'final']
assert len(finals) >= 3, len(finals)
assert [f['segment_id'] for f in finals] == list(range(len(finals))), 'segment ids in order'
for f in finals:
    assert f['text'] and f['end'] > f['start'] >= 0, f
    assert f['words'] and all(w['start'] <= w['end'] and 0 <= w['p'] <= 1 for w in f['words']), f
assert sum(1 for t in types if t == 'speech_start') >= 3
assert any(t == 'partial' for t in types) and any(t == 'stats' for t in types)
# finals arrive while the stream runs, not all at the end
assert finals[0]['wall'] < ev[-1]['wall'] - 5, (finals[0]['wall'], ev[-1]['wall'])
open(sys.argv[2], 'w').write('\n'.join(f['text'] for f in finals) + '\n')
print(ev[1]['session_id'] if 'session_id' in ev[1] else ev[0]['session_id'])
EOF
SID=$($PY -c "import json,sys; print(json.loads(open(sys.argv[1]).readline())['session_id'])" "$TMP/ev.jsonl")
wait "$BATCH_PID" || fail "batch transcription"
W_STREAM=$("$SOTTO" wer --json "$TMP/ref.txt" "$TMP/finals.txt" | $PY -c "import json,sys; print(json.load(sys.stdin)['wer'])")
W_BATCH=$("$SOTTO" wer --json "$TMP/ref.txt" "$TMP/batch.txt" | $PY -c "import json,sys; print(json.load(sys.stdin)['wer'])")
echo "WER stream $W_STREAM batch $W_BATCH"
# 38 reference words: one word is 2.6 points, so the issue's "within 1.5 points of batch"
# is measured by bench/stream_latency.sh over ~90 words; here at most two words more
$PY -c "import sys; s, b = float(sys.argv[1]), float(sys.argv[2]); assert s <= 0.20 and s <= b + 0.06, (s, b)" \
  "$W_STREAM" "$W_BATCH" || fail "stream WER $W_STREAM vs batch $W_BATCH"

# the session holds every final, in order, with the same times
req "$K" GET "/v1/sessions/$SID/messages"; expect 200
$PY - "$TMP/body" "$TMP/ev.jsonl" <<'EOF' || fail "session messages: $(cat "$TMP/body" | head -c 600)"
import json, sys
msgs = json.load(open(sys.argv[1]))['data']
finals = [e for e in map(json.loads, open(sys.argv[2])) if e['type'] == 'final']
assert [m['content'] for m in msgs] == [f['text'] for f in finals], ([m['content'] for m in msgs], [f['text'] for f in finals])
for m, f in zip(msgs, finals):
    assert abs(m['start'] - f['start']) < 1e-3 and abs(m['end'] - f['end']) < 1e-3, (m, f)
EOF
req "$K" GET "/v1/sessions/$SID"; expect 200; jcheck "d['type'] == 'live'" "a live session"

# the same audio at 48 kHz f32le, no start message (query parameters only)
"$WS" --url "$WSURL?api_key=$K&format=f32le&sample_rate=48000&policy=native" --no-start --format f32le \
  --send-rate 48000 "$TMP/speech.wav" > "$TMP/ev48.jsonl" || fail "48 kHz stream failed"
$PY -c "
import json,sys
ev=[json.loads(l) for l in open(sys.argv[1])]
assert ev[0]['type']=='ready' and ev[0]['sample_rate']==48000 and ev[0]['format']=='f32le', ev[0]
open(sys.argv[2],'w').write('\n'.join(e['text'] for e in ev if e['type']=='final')+'\n')" "$TMP/ev48.jsonl" "$TMP/finals48.txt" \
  || fail "48 kHz events: $(head -3 "$TMP/ev48.jsonl")"
W48=$("$SOTTO" wer --json "$TMP/ref.txt" "$TMP/finals48.txt" | $PY -c "import json,sys; print(json.load(sys.stdin)['wer'])")
echo "WER 48 kHz f32le stream $W48"
# (at most two words more of 38, as above; over the 30 fixture utterances, 290 words, the
# 48 kHz stream scores 5.17% against 5.52% at 16 kHz: resampling costs nothing there)
$PY -c "import sys; assert float(sys.argv[1]) <= float(sys.argv[2]) + 0.06" "$W48" "$W_STREAM" || fail "48 kHz WER $W48"

# silence only and noise only: no text at all
sox -n -r 16000 -c 1 -b 16 "$TMP/silence.wav" trim 0 8
sox -n -r 16000 -c 1 -b 16 "$TMP/noise.wav" synth 8 pinknoise vol 0.05
for f in silence noise; do
  "$WS" --url "$WSURL?api_key=$K" "$TMP/$f.wav" > "$TMP/$f.jsonl" || fail "$f stream failed"
  grep -q '"type":"done"' "$TMP/$f.jsonl" || fail "$f: no done"
  if grep '"type":"\(final\|partial\)"' "$TMP/$f.jsonl" | grep -qv '"text":""'; then
    fail "$f produced text: $(grep '"type":"final"' "$TMP/$f.jsonl" | head -3)"
  fi
done
req "$K" GET /health; expect 200
srv_stop
echo "ok"
