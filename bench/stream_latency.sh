#!/usr/bin/env bash
# stream_latency.sh [BUILD] [FIXTURES] - live transcription over /v1/listen, measured
# against ground truth: a real server, a real WebSocket client (BUILD/tools/ws_client)
# sending a ~60 s synthesized stream in real time (40 ms frames), PocketSphinx.
#
# The stream: fixture utterances (flite, three voices) placed at known times with
# 1.5-4 s pauses; the placement and each utterance's word times (batch `sotto transcribe
# --word-timestamps` on the clean utterance) give the reference end of every word.
# Per policy (native, native with early commit, local_agreement): computation-aware final-word latency (mean, p50,
# p95), first-partial latency, normalized erasure of partials, WER of the finals, RTF and
# recognizer calls saved by the VAD. Then N concurrent streams (default 20) of the same
# audio: per-stream RTF, backlog, degraded flag and final-word latency: do they keep up?
# STREAMS=N sets N; ONLY_MULTI=1 skips the single-stream part.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
fx=${2:-$build/fixtures}
sotto=$build/sotto
ws=$build/tools/ws_client
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
n_streams=${STREAMS:-20}
for t in sox soxi; do command -v $t >/dev/null || { echo "needs $t" >&2; exit 1; }; done
[ -x "$ws" ] || { echo "no $ws: cmake --build $build --target tool_ws_client" >&2; exit 1; }
[ -f "$fx/utt_00_kal16.wav" ] || { echo "no fixtures in $fx (ctest -R fixtures.generate_speech)" >&2; exit 1; }
work=$(mktemp -d /tmp/sotto-stream.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# ---- the stream and its placement --------------------------------------------------------
$py - "$fx" "$work" "$sotto" <<'EOF'
import json, random, subprocess, sys
fx, work, sotto = sys.argv[1:4]
rng = random.Random(6)
utts = ["00_kal16", "01_slt", "02_rms", "04_slt", "05_rms", "06_kal16", "07_slt", "08_rms",
        "09_kal16", "10_slt", "11_rms", "12_kal16", "13_slt", "14_rms"]
parts, t, placement = [], 0.0, []
for u in utts:
    gap = round(rng.uniform(1.5, 4.0), 2)
    wav = f"{fx}/utt_{u}.wav"
    dur = float(subprocess.check_output(["soxi", "-D", wav]).decode())
    if t + gap + dur > 60.0:
        break
    subprocess.check_call(["sox", "-n", "-r", "16000", "-c", "1", "-b", "16", f"{work}/gap_{u}.wav", "trim", "0", str(gap)])
    parts += [f"{work}/gap_{u}.wav", wav]
    t += gap
    out = json.loads(subprocess.check_output([sotto, "transcribe", "-f", "json", "--word-timestamps", wav],
                                             stderr=subprocess.DEVNULL))
    words = [{"word": w["word"], "start": w["start"], "end": w["end"]}
             for s in out["segments"] for w in s.get("words", [])]
    placement.append({"utt": u, "start": round(t, 3), "duration": dur,
                      "text": open(f"{fx}/utt_{u}.txt").read().strip(), "words": words})
    t += dur
tail = max(0.0, 60.0 - t)
subprocess.check_call(["sox", "-n", "-r", "16000", "-c", "1", "-b", "16", f"{work}/tail.wav", "trim", "0", str(max(tail, 2.0))])
parts.append(f"{work}/tail.wav")
subprocess.check_call(["sox", *parts, f"{work}/stream.wav"])
dur = float(subprocess.check_output(["soxi", "-D", f"{work}/stream.wav"]).decode())
json.dump({"duration": dur, "utterances": placement}, open(f"{work}/placement.json", "w"), indent=1)
speech = sum(p["duration"] for p in placement)
print(f"stream: {dur:.1f} s, {len(placement)} utterances, {speech:.1f} s of speech "
      f"({100 * (1 - speech / dur):.0f}% silence); placement in placement.json")
EOF

"$sotto" user add bench --data "$work/data" 2>/dev/null
key=$("$sotto" key new bench --data "$work/data" 2>/dev/null)
"$sotto" serve --listen 127.0.0.1:0 --data "$work/data" 2> "$work/server.log" &
pid=$!
for _ in $(seq 100); do grep -aq '"msg":"listening"' "$work/server.log" && break; sleep 0.1; done
port=$(grep -m1 -ao '"port":[0-9]*' "$work/server.log" | grep -o '[0-9]*$')
url="ws://127.0.0.1:$port/v1/listen?api_key=$key&model=sphinx"
echo "server on port $port; $(nproc) cores shared by server and client"

echo "== batch (sotto transcribe) on the same audio, for comparison"
$py -c "import json,sys; print('\n'.join(u['text'] for u in json.load(open(sys.argv[1]))['utterances']))" \
  "$work/placement.json" > "$work/ref.txt"
t0=$(date +%s.%N)
"$sotto" transcribe "$work/stream.wav" > "$work/batch.txt" 2>/dev/null
t1=$(date +%s.%N)
"$sotto" wer --json "$work/ref.txt" "$work/batch.txt" | $py -c "
import json,sys; d=json.load(sys.stdin); el=float(sys.argv[2])-float(sys.argv[1]); dur=float(sys.argv[3])
print(f'batch            WER {100*d[\"wer\"]:5.1f}% (text vs fixture texts)  wall {el:.1f} s  RTF {el/dur:.3f}')" \
  "$t0" "$t1" "$(soxi -D "$work/stream.wav")"

if [ -n "${ONLY_MULTI:-}" ]; then :; else
echo "== one stream, real time, per policy (WER of finals vs fixture texts, and vs batch words)"
for pol in native native_early local_agreement; do
  start="{\"policy\":\"$pol\"}"
  [ "$pol" = native_early ] && start='{"policy":"native","early_commit":true}'
  "$ws" --url "$url" --realtime --chunk-ms 40 --start "$start" --timeout 300 \
    "$work/stream.wav" > "$work/ev_$pol.jsonl" || echo "  ($pol: ws_client exited $?)"
  $py "$here/stream_latency.py" single "$work/placement.json" "$work/ev_$pol.jsonl" "$pol" 2>> "$work/summary.jsonl"
done

fi
echo "== $n_streams concurrent streams (native), real time"
"$ws" --url "$url" --realtime --chunk-ms 40 --streams "$n_streams" --start '{"policy":"native"}' --timeout 600 \
  "$work/stream.wav" > "$work/ev_multi.jsonl" || echo "  (ws_client exited $?)"
$py "$here/stream_latency.py" multi "$work/placement.json" "$work/ev_multi.jsonl"
[ -n "${KEEP:-}" ] && cp -r "$work" "$KEEP" && echo "events kept in $KEEP"
kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; pid=
