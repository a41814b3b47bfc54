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
# ("kept pace": done within 3 s of the audio's end; "kept real time": also a backlog under
# 1 s at every update)
# The N streams run twice (MULTI_MODES, default "staggered lockstep"): staggered, each
# stream's audio rotated to begin at a different pause (ws_client --offsets), so they talk
# at different times like independent speakers; lockstep, all send the same audio at the
# same moment, so every stream speaks at once (the worst case: the load comes in bursts of
# N voiced streams with nothing between).
# STREAMS=N sets N (a list runs each: STREAMS="1 5 20"); ONLY_MULTI=1 skips the single-stream part;
# MULTI_START is the concurrent streams' start message (default {"policy":"native"});
# ONLY_WHISPER=1 (with WHISPER=1) skips every sphinx part; POLICIES="native_early" picks the
# single-stream policies (default: native native_early local_agreement).
# The server starts with --warm-streams set to the largest STREAMS value, at least 2 (WARM=N
# overrides; WARM=0 for none) and the streams wait for its "warmed" log line, so the runs
# measure streams, not PocketSphinx decoders being loaded (0.9 s CPU each; an early-commit
# stream takes two when it starts, the second for its prefix passes).
# Every run also gives the server's CPU seconds (user+sys from /proc/PID/stat) per second
# of audio per stream (cpu_s_per_audio_s) and the streams the machine's cores could hold
# at that cost (capacity_streams = cores / cost): unlike RTF and backlog these do not
# depend on what else is running on the machine.
# WHISPER=1 adds Whisper on random-weight models (WHISPER_DIMS, default "tiny"; "tiny base"
# for both; WHISPER_SECONDS of the stream, default 15; WHISPER_TIMEOUT per stream, default
# 240 s): per policy (local_agreement, align_att) word lag (emission wall time minus the
# word's end in the audio), RTF, buffered seconds and degraded stats. The text is garbage
# with random weights, and such a model never emits end-of-text, so every decode runs to
# the token limit (and local_agreement's whole-buffer calls, with the server's default
# beam 5 and temperature fallback, to the limit at every temperature): the figures are a
# worst case of the decoding cost, not what a trained model streams at.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
fx=${2:-$build/fixtures}
sotto=$build/sotto
ws=$build/tools/ws_client
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
n_streams=${STREAMS:-20}
warm=${WARM:-$(printf "%s\n" 2 $n_streams | sort -n | tail -1)}
# the start message of every concurrent stream (MULTI_START='{"policy":"native","early_commit":true}')
multi_start=${MULTI_START:-'{"policy":"native"}'}
cores=$(nproc)
tck=$(getconf CLK_TCK)
# CPU seconds (user+sys) a process has used so far: fields 14 and 15 of /proc/PID/stat
cpu_of() { awk -v t="$tck" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$1/stat"; }
# run CMD...: run it, leaving its CPU seconds in $run_cpu
run_cpu=0
run_timed() {
  local rc=0
  /usr/bin/time -o "$work/time.txt" -f "%U %S" "$@" || rc=$?
  run_cpu=$(tail -1 "$work/time.txt" | awk '{ printf "%.2f", $1 + $2 }')
  return $rc
}
# wait until the server's CPU time stops growing (streams whose client gave up are still
# finished by the server: their cost counts too); at most 300 s
settle() {
  local a b i
  a=$(cpu_of "$1")
  for i in $(seq 300); do
    sleep 1
    b=$(cpu_of "$1")
    awk -v a="$a" -v b="$b" 'BEGIN { exit !(b - a < 0.05) }' && break
    a=$b
  done
}
# server CPU used between two readings
delta() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
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
"$sotto" serve --listen 127.0.0.1:0 --data "$work/data" --warm-streams "$warm" 2> "$work/server.log" &
pid=$!
for _ in $(seq 100); do grep -aq '"msg":"listening"' "$work/server.log" && break; sleep 0.1; done
port=$(grep -m1 -ao '"port":[0-9]*' "$work/server.log" | grep -o '[0-9]*$')
url="ws://127.0.0.1:$port/v1/listen?api_key=$key&model=sphinx"
echo "server on port $port; $(nproc) cores shared by server and client"
if [ "$warm" -gt 0 ]; then
  for _ in $(seq 1200); do grep -aq 'sphinx stream decoders' "$work/server.log" && break; sleep 0.1; done
  echo "server: $(grep -ao 'warmed [^"]*' "$work/server.log" || echo "warm-up did not finish in 120 s")"
fi

if [ -z "${ONLY_WHISPER:-}" ]; then
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
for pol in ${POLICIES:-native native_early local_agreement}; do
  start="{\"policy\":\"$pol\"}"
  [ "$pol" = native_early ] && start='{"policy":"native","early_commit":true}'
  c0=$(cpu_of "$pid")
  run_timed "$ws" --url "$url" --realtime --chunk-ms 40 --start "$start" --timeout 300 \
    "$work/stream.wav" > "$work/ev_$pol.jsonl" || echo "  ($pol: ws_client exited $?)"
  settle "$pid"
  c1=$(cpu_of "$pid")
  $py "$here/stream_latency.py" single "$work/placement.json" "$work/ev_$pol.jsonl" "$pol" \
    --cpu-s "$(delta "$c0" "$c1")" --client-cpu-s "$run_cpu" --cores "$cores" 2>> "$work/summary.jsonl"
done

fi
for n in $n_streams; do
  for mode in ${MULTI_MODES:-staggered lockstep}; do
    offs=()
    [ "$mode" = staggered ] && offs=(--offsets "$($py "$here/stream_latency.py" offsets "$work/placement.json" "$n")")
    echo "== $n concurrent streams ($multi_start), real time, $mode"
    c0=$(cpu_of "$pid")
    run_timed "$ws" --url "$url" --realtime --chunk-ms 40 --streams "$n" --start "$multi_start" --timeout 600 \
      "${offs[@]}" "$work/stream.wav" > "$work/ev_multi_${n}_$mode.jsonl" || echo "  (ws_client exited $?)"
    settle "$pid"
    c1=$(cpu_of "$pid")
    $py "$here/stream_latency.py" multi "$work/placement.json" "$work/ev_multi_${n}_$mode.jsonl" "${offs[@]}" \
      --cpu-s "$(delta "$c0" "$c1")" --client-cpu-s "$run_cpu" --cores "$cores" 2>> "$work/summary.jsonl"
  done
done
fi
kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; pid=

if [ -n "${WHISPER:-}" ]; then
  wsec=${WHISPER_SECONDS:-15}
  sox "$work/stream.wav" "$work/stream_w.wav" trim 0 "$wsec"
  wdur=$(printf "%.1f" "$(soxi -D "$work/stream_w.wav")")
  echo "== Whisper, random weights (the text is garbage: latency and RTF are what is measured), ${wdur} s of the stream"
  for dims in ${WHISPER_DIMS:-tiny}; do
    # f16 tiny; base as q8_0 (the faster type for base on this machine class, docs/whisper.md)
    type=f16; [ "$dims" = tiny ] || type=q8_0
    "$sotto" model new --dims "$dims" --type "$type" -o "$work/$dims.bin" 2>/dev/null
    "$sotto" serve --listen 127.0.0.1:0 --data "$work/data" -m "$work/$dims.bin" 2> "$work/server_$dims.log" &
    pid=$!
    for _ in $(seq 300); do grep -aq '"msg":"listening"' "$work/server_$dims.log" && break; sleep 0.1; done
    wport=$(grep -m1 -ao '"port":[0-9]*' "$work/server_$dims.log" | grep -o '[0-9]*$')
    for pol in local_agreement align_att; do
      c0=$(cpu_of "$pid")
      "$ws" --url "ws://127.0.0.1:$wport/v1/listen?api_key=$key&model=whisper" --realtime --chunk-ms 40 \
        --start "{\"policy\":\"$pol\"}" --timeout "${WHISPER_TIMEOUT:-240}" "$work/stream_w.wav" \
        > "$work/ev_w_${dims}_$pol.jsonl" || echo "  ($dims $pol: ws_client exited $?; figures up to then)"
      settle "$pid"
      c1=$(cpu_of "$pid")
      $py "$here/stream_latency.py" whisper "$wdur" "$work/ev_w_${dims}_$pol.jsonl" "$dims $type $pol" \
        --cpu-s "$(delta "$c0" "$c1")" --cores "$cores" 2>> "$work/summary.jsonl"
    done
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; pid=
    rm -f "$work/$dims.bin"
  done
fi
[ -n "${KEEP:-}" ] && cp -r "$work" "$KEEP" && echo "events kept in $KEEP"
