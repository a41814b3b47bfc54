#!/usr/bin/env bash
# Proves: the durable job API: submit 202 {id}; poll PENDING..COMPLETE with progress,
# versions (sotto version, backend), metrics (input duration, processing time, RTF) and
# results (txt, json, srt, vtt); the transcript becomes a searchable session; list with a
# status filter and pagination; cancel; delete removes the record and its upload file;
# unknown ids 404; features of later issues (summary, diarize) are a clear 422.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_helpers.bash"
K=$(mkuser alice)
srv_start
req "$K" POST /v1/jobs -F file=@"$FX/utt_00_kal16.wav" -F features=raw_transcript -F language=en; expect 202
J1=$(jget "d['id']")
jcheck "d['status'] == 'PENDING'" "202 body"
wait_job "$K" "$J1" COMPLETE
jcheck "d['progress'] == 1 and d['attempts'] == 1 and d['input_name'] == 'utt_00_kal16.wav'" "job fields"
jcheck "d['versions']['backend'] == 'sphinx' and 'sotto' in json.dumps(d['versions'])" "versions"
jcheck "d['metrics']['input_duration_s'] > 3.5 and d['metrics']['processing_time_s'] > 0 and d['metrics']['rtf'] > 0" "metrics"
jcheck "'reservation' in d['results']['txt'] and d['results']['json']['segments'] and d['results']['srt'].startswith('1') and d['results']['vtt'].startswith('WEBVTT')" "results"
SES=$(jget "d['session_id']")
req "$K" GET "/v1/sessions/$SES/messages"; expect 200
jcheck "len(d['data']) >= 1 and 'reservation' in ' '.join(m['content'] for m in d['data'])" "job session"
req "$K" GET "/v1/search?q=reservation"; expect 200; jcheck "d['data'][0]['message']['session_id'] == '$SES'" "job search"
# more jobs for listing
for f in utt_03_kal16 utt_06_kal16 utt_09_kal16; do
  req "$K" POST /v1/jobs -F file=@"$FX/$f.wav" -F formats=txt; expect 202
  LAST=$(jget "d['id']")
done
wait_job "$K" "$LAST" COMPLETE
req "$K" GET "/v1/jobs?status=COMPLETE&limit=2&offset=0"; expect 200
jcheck "d['total'] == 4 and len(d['data']) == 2 and d['has_more'] and all(j['status'] == 'COMPLETE' for j in d['data'])" "page 1"
P1=$(jget "[j['id'] for j in d['data']]")
req "$K" GET "/v1/jobs?status=complete&limit=2&offset=2"; expect 200
jcheck "len(d['data']) == 2 and not d['has_more'] and not set(j['id'] for j in d['data']) & set($P1)" "page 2"
req "$K" GET "/v1/jobs?status=FAILED"; expect 200; jcheck "d['total'] == 0" "failed filter"
req "$K" GET "/v1/jobs?status=NOPE"; error_shape 400
req "$K" GET "/v1/jobs?limit=0"; error_shape 400
# cancel a job that has not finished: a long one behind a short one
sox "$FX/utt_00_kal16.wav" "$FX/utt_03_kal16.wav" "$FX/utt_06_kal16.wav" "$TMP/long.wav"
req "$K" POST /v1/jobs -F file=@"$TMP/long.wav"; expect 202; JC=$(jget "d['id']")
req "$K" DELETE "/v1/jobs/$JC"; expect 200
wait_job "$K" "$JC" CANCELLED 20
# delete a finished job: the record and its upload go
req "$K" GET "/v1/jobs/$J1"; expect 200
N_BEFORE=$(ls "$DATA/uploads" | wc -l)
req "$K" DELETE "/v1/jobs/$J1"; expect 200; jcheck "d['deleted'] is True" "deleted"
req "$K" GET "/v1/jobs/$J1"; error_shape 404
N_AFTER=$(ls "$DATA/uploads" | wc -l)
[ "$N_AFTER" -eq $((N_BEFORE - 1)) ] || fail "upload not removed ($N_BEFORE -> $N_AFTER)"
req "$K" DELETE "/v1/jobs/$JC?purge=1"; expect 200
req "$K" GET /v1/jobs/job_0000000000000000; error_shape 404
req "$K" DELETE /v1/jobs/job_0000000000000000; error_shape 404
# features that need later issues, and bad options
req "$K" POST /v1/jobs -F file=@"$FX/utt_00_kal16.wav" -F features=summary; error_shape 422
jcheck "'summary' in d['error']['message'] and 'not available' in d['error']['message']" "summary message"
req "$K" POST /v1/jobs -F file=@"$FX/utt_00_kal16.wav" -F diarize=true; error_shape 422
req "$K" POST /v1/jobs -F file=@"$FX/utt_00_kal16.wav" -F features=telepathy; error_shape 400
req "$K" POST /v1/jobs -F file=@"$FX/utt_00_kal16.wav" -F formats=docx; error_shape 400
req "$K" POST /v1/jobs -F file=@"$FX/bad_text.txt"; error_shape 415
req "$K" POST /v1/jobs -F language=en; error_shape 400
srv_stop
echo "ok"
