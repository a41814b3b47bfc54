#!/usr/bin/env bash
# Proves: 50 concurrent uploads to POST /v1/jobs are each either accepted (202) or
# refused honestly (429), never lost or failed, and every accepted job completes once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/server_helpers.bash"
K=$(mkuser alice)
sox "$FX/utt_00_kal16.wav" "$TMP/short.wav" trim 0.5 1.2
echo '{"workers": 2, "limits": {"rate_per_s": 100, "rate_burst": 100, "max_queue": 40}}' > "$TMP/cfg.json"
srv_start --config "$TMP/cfg.json"
mkdir "$TMP/r"
pids=()
for i in $(seq 1 50); do
  curl -sS -o "$TMP/r/$i.json" -w '%{http_code}' -H "Authorization: Bearer $K" -F file=@"$TMP/short.wav" \
       "$URL/v1/jobs" > "$TMP/r/$i.code" &
  pids+=($!)
done
wait "${pids[@]}"
ACC=0; REF=0
for i in $(seq 1 50); do
  case "$(cat "$TMP/r/$i.code")" in
    202) ACC=$((ACC + 1)); $PY -c "import json; print(json.load(open('$TMP/r/$i.json'))['id'])" >> "$TMP/ids" ;;
    429) REF=$((REF + 1)); grep -q queue_full "$TMP/r/$i.json" || fail "429 without queue_full: $(cat "$TMP/r/$i.json")" ;;
    *) fail "upload $i: $(cat "$TMP/r/$i.code") $(cat "$TMP/r/$i.json")" ;;
  esac
done
[ $((ACC + REF)) = 50 ] && [ "$ACC" -ge 40 ] || fail "accepted $ACC refused $REF"
for _ in $(seq 300); do
  req "$K" GET "/v1/jobs?status=COMPLETE&limit=1"
  [ "$(jget "d['total']")" = "$ACC" ] && break
  sleep 0.3
done
req "$K" GET "/v1/jobs?limit=100"; expect 200
jcheck "d['total'] == $ACC and all(j['status'] == 'COMPLETE' and j['attempts'] == 1 for j in d['data'])" "all accepted jobs complete once"
jcheck "sorted(j['id'] for j in d['data']) == sorted(open('$TMP/ids').read().split())" "the same ids"
req "$K" GET "/v1/sessions?type=job&limit=100"; expect 200; jcheck "d['total'] == $ACC" "one session per job"
echo "accepted $ACC, refused $REF" >&2
srv_stop
echo "ok"
