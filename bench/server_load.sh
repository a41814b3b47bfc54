#!/usr/bin/env bash
# server_load.sh [BUILD] - load benchmark of `sotto serve` on loopback with wrk:
# requests/s and p50/p99 latency for GET /health, job submission of a short file, message
# appends, and search over 100k+ messages; then jobs/hour for 30 s files with the
# embedded recognizer. Everything runs against a throw-away data dir; bounded in time.
set -euo pipefail
build=${1:-build}
sotto=$(cd "$build" && pwd)/sotto
here=$(cd "$(dirname "$0")" && pwd)
for t in wrk curl flite sox; do command -v $t >/dev/null || { echo "needs $t (make deps)" >&2; exit 1; }; done
work=$(mktemp -d /tmp/sotto-load.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
export SOTTO_RATE_PER_S=1000000 SOTTO_RATE_BURST=1000000 SOTTO_MAX_QUEUE=1000000 SOTTO_WORKERS=2
# start_server: a fresh data dir (so each phase measures only its own load), a user, a key
start_server() {
  [ -n "$pid" ] && { kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; }
  rm -rf "$work/data"
  "$sotto" user add bench --data "$work/data" 2>/dev/null
  key=$("$sotto" key new bench --data "$work/data" 2>/dev/null)
  "$sotto" serve --listen 127.0.0.1:0 --data "$work/data" 2> "$work/server.log" &
  pid=$!
  for _ in $(seq 100); do grep -aq '"msg":"listening"' "$work/server.log" && break; sleep 0.1; done
  port=$(grep -m1 -ao '"port":[0-9]*' "$work/server.log" | grep -o '[0-9]*$')
  url=http://127.0.0.1:$port
}
start_server
# the server logs one line per request: keep the log small
report() { # NAME wrk-output-file
  awk -v n="$1" '/Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2}
    END {printf "%-28s %10s req/s   p50 %8s   p99 %8s\n", n, rps, p50, p99}' "$2"
}

echo "== wrk -t2 -c16 against $url ($(nproc) cores shared by server and client)"
wrk -t2 -c16 -d5s --latency "$url/health" > "$work/health.txt"
report "GET /health" "$work/health.txt"

# job submission of a 1 s file (the jobs queue up; workers drain them afterwards)
flite -voice kal16 -t "one two three" -o "$work/short.raw.wav"
sox -R -q "$work/short.raw.wav" -r 16000 -c 1 -b 16 "$work/short.wav"
KEY=$key FILE=$work/short.wav wrk -t2 -c8 -d5s --latency -s "$here/wrk_submit.lua" "$url/v1/jobs" > "$work/submit.txt"
report "POST /v1/jobs (1 s WAV)" "$work/submit.txt"

# message appends into one session, then search over them (a fresh server: the jobs
# submitted above would otherwise be transcribed meanwhile and share the cores)
start_server
sid=$(curl -sS -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
  -d '{"type":"chat","title":"load"}' "$url/v1/sessions" | sed 's/.*"id":"\([^"]*\)".*/\1/')
KEY=$key wrk -t2 -c16 -d40s --latency -s "$here/wrk_append.lua" "$url/v1/sessions/$sid/messages" > "$work/append.txt"
report "POST messages (appends)" "$work/append.txt"
n=$(curl -sS -H "Authorization: Bearer $key" "$url/v1/sessions/$sid/stats" | grep -o '"messages":[0-9]*' | grep -o '[0-9]*$')
echo "messages stored: $n"
KEY=$key wrk -t2 -c8 -d5s --latency -s "$here/wrk_search.lua" "$url/v1/search" > "$work/search.txt"
report "GET /v1/search ($n msgs)" "$work/search.txt"

# jobs/hour for 30 s files: 8 jobs on a fresh server with 2 workers
start_server
i=0; parts=()
while IFS= read -r line && [ $i -lt 8 ]; do
  flite -voice kal16 -t "$line" -o "$work/p$i.wav"; sox -R -q "$work/p$i.wav" -r 16000 -c 1 -b 16 "$work/q$i.wav" pad 0.3 1.0
  parts+=("$work/q$i.wav"); i=$((i + 1))
done < "$here/../tests/fixtures/sentences.txt"
sox -R -q "${parts[@]}" "$work/block.wav"
sox -R -q "$work/block.wav" "$work/long.wav" repeat 3 trim 0 30
ids=()
start=$(date +%s.%N)
for j in $(seq 8); do
  ids+=("$(curl -sS -H "Authorization: Bearer $key" -F file=@"$work/long.wav" "$url/v1/jobs" | sed 's/.*"id":"\([^"]*\)".*/\1/')")
done
for id in "${ids[@]}"; do
  while ! curl -sS -H "Authorization: Bearer $key" "$url/v1/jobs/$id" | grep -q '"status":"COMPLETE"'; do sleep 0.2; done
done
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" 'BEGIN { t = e - s; printf "%-28s %10.0f jobs/hour   (8 x 30 s in %.1f s, 2 workers)\n", "30 s jobs, sphinx", 8 * 3600 / t, t }'
