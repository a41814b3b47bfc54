#!/usr/bin/env bash
# Proves: the OpenAI audio API with plain curl multipart: json, text, srt, vtt and
# verbose_json (segments; words with timestamp_granularities[]=word), the SSE stream
# (transcript.text.delta events then one transcript.text.done whose text the deltas add up
# to), /v1/models, and every error: missing file 400, not audio 415, empty 422, undecodable
# 422, too large 413, bad response_format 400, unknown model 400, translation without
# Whisper 422 - all with the JSON error shape and the request id. Uploads are removed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_helpers.bash"
K=$(mkuser alice)
SOTTO_MAX_UPLOAD_MB=0.5 srv_start
sox -n -r 16000 -c 1 -b 16 "$TMP/long.wav" trim 0 20
T=/v1/audio/transcriptions
WAV=$FX/utt_00_kal16.wav
req "$K" POST $T -F file=@"$WAV" -F model=whisper-1; expect 200
jcheck "'reservation' in d['text'] and 'tonight' in d['text']" "json text"
grep -qi '^x-request-id: [0-9a-f]\{20\}' "$TMP/hdr" || fail "X-Request-Id"
req "$K" POST $T -F file=@"$WAV" -F model=sphinx -F response_format=text; expect 200
grep -q "reservation" "$TMP/body" || fail "text: $(cat "$TMP/body")"
grep -qi '^content-type: text/plain' "$TMP/hdr" || fail "text content type"
req "$K" POST $T -F file=@"$WAV" -F model=whisper-1 -F response_format=srt; expect 200
head -1 "$TMP/body" | grep -qx 1 || fail "srt numbering"
grep -Eq '^[0-9]{2}:[0-9]{2}:[0-9]{2},[0-9]{3} --> ' "$TMP/body" || fail "srt timing: $(cat "$TMP/body")"
req "$K" POST $T -F file=@"$WAV" -F model=whisper-1 -F response_format=vtt; expect 200
head -1 "$TMP/body" | grep -qx WEBVTT || fail "vtt header"
req "$K" POST $T -F file=@"$FX/fmt.mp3" -F model=whisper-1 -F response_format=verbose_json -F language=en; expect 200
jcheck "d['task'] == 'transcribe' and d['duration'] > 1 and d['segments'] and 'words' not in d" "verbose_json"
jcheck "all(k in d['segments'][0] for k in ('id','seek','start','end','text','tokens','temperature','avg_logprob','compression_ratio','no_speech_prob'))" "segment keys"
req "$K" POST $T -F file=@"$WAV" -F model=whisper-1 -F response_format=verbose_json \
    -F 'timestamp_granularities[]=word' -F 'timestamp_granularities[]=segment'; expect 200
jcheck "len(d['words']) >= 8 and all(w['end'] >= w['start'] for w in d['words']) and d['segments']" "words"
jcheck "[w['word'] for w in d['words']][-1] == 'tonight'" "last word"
# SSE
curl -sS -N -D "$TMP/hdr" -H "Authorization: Bearer $K" -F file=@"$FX/two_utterances.wav" -F model=whisper-1 \
     -F stream=true "$URL$T" > "$TMP/sse"
grep -qi "^content-type: text/event-stream" "$TMP/hdr" || fail "sse content type: $(cat "$TMP/hdr")"
$PY - "$TMP/sse" <<'PY' || fail "sse stream: $(cat "$TMP/sse")"
import json, sys
events = [json.loads(l[6:]) for l in open(sys.argv[1]) if l.startswith("data: ")]
types = [e["type"] for e in events]
assert types[-1] == "transcript.text.done" and types.count("transcript.text.done") == 1, types
assert all(t == "transcript.text.delta" for t in types[:-1]) and len(types) >= 2, types
assert "".join(e["delta"] for e in events[:-1]) == events[-1]["text"], events
assert len(events[-1]["text"].split()) >= 8, events[-1]
PY
req "$K" GET /v1/models; expect 200
jcheck "d['object'] == 'list' and {'sphinx','whisper-1'} <= {m['id'] for m in d['data']}" "models"
# errors
req "$K" POST $T -F model=whisper-1; error_shape 400
req "$K" POST $T -F file=@"$FX/bad_text.txt" -F model=whisper-1; error_shape 415
req "$K" POST $T -F file=@"$FX/bad_random.bin" -F model=whisper-1; error_shape 415
req "$K" POST $T -F file=@"$FX/bad_empty.wav" -F model=whisper-1; error_shape 422
req "$K" POST $T -F file=@"$FX/bad_zero_channels.wav" -F model=whisper-1; error_shape 422
jcheck "'channels' in d['error']['message'] or 'header' in d['error']['message']" "decoder reason"
req "$K" POST $T -F file=@"$TMP/long.wav" -F model=whisper-1; error_shape 413
req "$K" POST $T -F file=@"$WAV" -F model=whisper-1 -F response_format=docx; error_shape 400
req "$K" POST $T -F file=@"$WAV" -F model=gpt-17; error_shape 400
req "$K" POST $T -F file=@"$WAV"; error_shape 400
req "$K" POST $T -F file=@"$WAV" -F model=whisper-1 -F temperature=7; error_shape 400
req "$K" POST $T -F file=@"$WAV" -F model=whisper-1 -F 'timestamp_granularities[]=letter'; error_shape 400
req "$K" POST $T -d 'not multipart'; error_shape 400
req "$K" POST /v1/audio/translations -F file=@"$WAV" -F model=whisper-1; error_shape 422
sleep 0.5
[ -z "$(ls "$DATA/uploads")" ] || fail "uploads left behind: $(ls "$DATA/uploads")"
srv_stop
line=$(grep -a -m1 '"msg":"request"' "$SRV_LOG")
printf '%s\n' "$line" | $PY -c 'import json,sys; d=json.loads(sys.stdin.readline()); assert {"request_id","user","route","status","latency_ms"} <= set(d), d' \
  || fail "access log line: $line"
echo "ok"
