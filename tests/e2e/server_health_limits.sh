#!/usr/bin/env bash
# Proves: /health reports each component (database, queue, workers, recognizers) and is
# 200 when all are up; /metrics is Prometheus text with requests by route and status,
# latency and RTF histograms, jobs by state, queue depth, audio seconds, open connections,
# RSS and CPU; every response has X-Request-Id; the per-key rate limit answers 429 with
# Retry-After; a full queue answers 429 for jobs and 503 for sync transcription; SIGTERM
# drains a request in flight and exits 0.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_helpers.bash"
K=$(mkuser alice)
echo '{"limits": {"rate_per_s": 0.5, "rate_burst": 4, "max_queue": 1}}' > "$TMP/cfg.json"
srv_start --config "$TMP/cfg.json"
req "" GET /health; expect 200
jcheck "d['status'] == 'ok' and d['components']['database']['status'] == 'ok' and d['components']['workers']['alive'] == 1" "health"
jcheck "d['components']['queue']['limit'] == 1 and d['components']['recognizers']['sphinx']['status'] == 'ok'" "health queue/asr"
grep -qi '^x-request-id: ' "$TMP/hdr" || fail "health request id"
# rate limit: burst 4, then 429 with Retry-After
for i in 1 2 3 4; do req "$K" GET /v1/jobs; expect 200; done
req "$K" GET /v1/jobs; error_shape 429
RA=$(grep -i '^retry-after:' "$TMP/hdr" | tr -dc '0-9')
[ -n "$RA" ] && [ "$RA" -ge 1 ] && [ "$RA" -le 3 ] || fail "Retry-After: '$RA'"
jcheck "d['error']['code'] == 'rate_limited'" "rate code"
srv_stop
# backpressure: queue limit 1; a long job runs, one waits, the next is refused
echo '{"limits": {"max_queue": 1}}' > "$TMP/cfg.json"
srv_start --config "$TMP/cfg.json"
sox "$FX/utt_00_kal16.wav" "$FX/utt_03_kal16.wav" "$FX/utt_06_kal16.wav" "$FX/utt_09_kal16.wav" "$TMP/long.wav"
req "$K" POST /v1/jobs -F file=@"$TMP/long.wav"; expect 202; J1=$(jget "d['id']")
wait_job "$K" "$J1" TRANSCRIBING 20
req "$K" POST /v1/jobs -F file=@"$TMP/long.wav"; expect 202; J2=$(jget "d['id']")
req "$K" POST /v1/jobs -F file=@"$FX/utt_00_kal16.wav"; error_shape 429
jcheck "d['error']['code'] == 'queue_full'" "queue full code"
grep -qi '^retry-after:' "$TMP/hdr" || fail "queue full Retry-After"
req "$K" POST /v1/audio/transcriptions -F file=@"$FX/utt_00_kal16.wav" -F model=whisper-1; error_shape 503
req "" GET /health; expect 200; jcheck "d['components']['queue']['status'] == 'full'" "health shows full queue"
N_UP=$(ls "$DATA/uploads" | wc -l)
[ "$N_UP" = 2 ] || fail "refused uploads must not stay ($N_UP files)"
wait_job "$K" "$J2" COMPLETE 60
# metrics after some traffic
req "" GET /metrics; expect 200
for m in 'sotto_http_requests_total{method="POST",route="/v1/jobs",status="429"} 1' \
         'sotto_http_request_duration_seconds_bucket{le="+Inf"}' 'sotto_job_rtf_count' \
         'sotto_jobs{state="COMPLETE"} 2' 'sotto_queue_depth 0' 'sotto_audio_processed_seconds_total' \
         'sotto_open_connections' 'process_resident_memory_bytes' 'process_cpu_seconds_total' \
         'sotto_workers_alive 1'; do
  grep -qF "$m" "$TMP/body" || fail "metrics lack '$m': $(cat "$TMP/body")"
done
sleep 1
req "" GET /metrics
grep -q '^sotto_job_rtf_count [12]$' "$TMP/body" || fail "rtf histogram: $(grep rtf "$TMP/body")"
AUDIO=$(grep '^sotto_audio_processed_seconds_total' "$TMP/body" | awk '{print $2}')
$PY -c "assert $AUDIO > 20, $AUDIO" || fail "audio seconds $AUDIO"
# drain: SIGTERM while a sync transcription is in flight; it still gets its answer
curl -sS -o "$TMP/drain" -w '%{http_code}' -H "Authorization: Bearer $K" -F file=@"$FX/utt_00_kal16.wav" \
     -F model=whisper-1 "$URL/v1/audio/transcriptions" > "$TMP/drain_code" &
CURL=$!
sleep 0.7
srv_stop
wait $CURL || true
[ "$(cat "$TMP/drain_code")" = 200 ] && grep -q reservation "$TMP/drain" || fail "drain: $(cat "$TMP/drain_code") $(cat "$TMP/drain")"
grep -aq '"msg":"stopped"' "$SRV_LOG" || fail "no clean stop"
echo "ok"
