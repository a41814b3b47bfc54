#!/usr/bin/env bash
# vad_savings.sh [BUILD] [FIXTURES] - what the VAD saves the recognizer on sparse audio:
# 41 s that are 80% silence (two fixture utterances after 12 s and 18 s of low white noise,
# about -50 dBFS, 4 s after the last), run through `sotto listen --stats` (sphinx, as fast
# as possible) per policy with the VAD and with --no-vad. Prints recognizer calls (updates)
# the recognizer's compute seconds (the stream's stats) and the process's CPU seconds
# (user+sys, model loading included) each way, and the share saved.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
fx=${2:-$build/fixtures}
sotto=$build/sotto
for t in sox soxi; do command -v $t >/dev/null || { echo "needs $t" >&2; exit 1; }; done
[ -f "$fx/utt_00_kal16.wav" ] || { echo "no fixtures in $fx (ctest -R fixtures.generate_speech)" >&2; exit 1; }
work=$(mktemp -d /tmp/sotto-vad.XXXXXX)
trap 'rm -rf "$work"' EXIT
for s in 12 18 4; do sox -n -r 16000 -c 1 -b 16 "$work/gap$s.wav" trim 0 "$s"; done
sox "$work/gap12.wav" "$fx/utt_00_kal16.wav" "$work/gap18.wav" "$fx/utt_03_kal16.wav" "$work/gap4.wav" \
  "$work/clean.wav"
dur=$(soxi -D "$work/clean.wav")
sox -n -r 16000 -c 1 -b 16 "$work/noise.wav" synth "$dur" whitenoise vol 0.003
sox -m "$work/clean.wav" "$work/noise.wav" "$work/sparse.wav"
speech=$(soxi -D "$fx/utt_00_kal16.wav" "$fx/utt_03_kal16.wav" | awk '{ s += $1 } END { print s }')
awk -v d="$dur" -v s="$speech" 'BEGIN { printf "audio %.1f s, speech %.1f s (%.0f%% silence)\n", d, s, 100 * (1 - s / d) }'
# run POLICY [--no-vad]: leaves the updates in $calls, the recognizer's compute seconds in
# $comp and the process's CPU seconds in $cpu
run() {
  /usr/bin/time -o "$work/time.txt" -f "%U %S" "$sotto" listen -q --stats --policy "$@" "$work/sparse.wav" \
    > "$work/out.txt" 2> "$work/err.txt"
  cpu=$(tail -1 "$work/time.txt" | awk '{ printf "%.2f", $1 + $2 }')
  calls=$(grep -o 'updates [0-9]*' "$work/err.txt" | head -1 | grep -o '[0-9]*')
  comp=$(grep -o 'compute [0-9.]*' "$work/err.txt" | head -1 | grep -o '[0-9.]*$')
}
for pol in native local_agreement; do
  run "$pol"; c1=$calls; r1=$comp; t1=$cpu
  run "$pol" --no-vad; c0=$calls; r0=$comp; t0=$cpu
  awk -v p="$pol" -v c1="$c1" -v c0="$c0" -v r1="$r1" -v r0="$r0" -v t1="$t1" -v t0="$t0" 'BEGIN {
    printf "%-16s calls %d with VAD, %d without (%.0f%% saved); recognizer compute %.2f s, %.2f s " \
           "(%.0f%% saved); process CPU %.2f s, %.2f s (%.0f%% saved)\n", p, c1, c0,
           100 * (1 - c1 / c0), r1, r0, 100 * (1 - r1 / r0), t1, t0, 100 * (1 - t1 / t0) }'
done
