#!/usr/bin/env bash
# Proves: jobs are durable: kill -9 the server while a ~40 s job is TRANSCRIBING, start it
# again on the same data dir, and the job completes exactly once (attempts 2, one session
# holding its transcript, no duplicated messages).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_helpers.bash"
K=$(mkuser alice)
files=()
for i in 00 03 06 09 12 15 18 21 00 03 06 09; do files+=("$FX/utt_${i}_kal16.wav"); done
sox "${files[@]}" "$TMP/long.wav"
DUR=$(soxi -D "$TMP/long.wav")
$PY -c "assert $DUR > 38, $DUR" || fail "long fixture is $DUR s"
srv_start
req "$K" POST /v1/jobs -F file=@"$TMP/long.wav"; expect 202; J=$(jget "d['id']")
wait_job "$K" "$J" TRANSCRIBING 30
sleep 1
kill -9 "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true; SRV_PID=
srv_start
wait_job "$K" "$J" COMPLETE 120
jcheck "d['attempts'] == 2 and d['session_id']" "attempts after crash"
SES=$(jget "d['session_id']")
req "$K" GET "/v1/sessions?type=job"; expect 200
jcheck "d['total'] == 1 and d['data'][0]['id'] == '$SES'" "exactly one session for the job"
req "$K" GET "/v1/sessions/$SES/messages"; expect 200
jcheck "[m['seq'] for m in d['data']] == list(range(1, len(d['data']) + 1)) and len(d['data']) >= 8" "messages once, in order"
jcheck "sum('reservation' in m['content'] for m in d['data']) == 2" "each utterance once (reservation twice in the audio)"
req "$K" GET "/v1/jobs?status=COMPLETE"; expect 200; jcheck "d['total'] == 1" "one job"
srv_stop
echo "ok"
