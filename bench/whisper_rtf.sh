#!/usr/bin/env bash
# whisper_rtf.sh MODEL [THREADS] [SOTTO] - real-time factor of the Whisper engine end to end
# on a 10-minute recording synthesized with flite (sentences looped) and sox (16 kHz mono).
set -euo pipefail
model=${1:?usage: whisper_rtf.sh MODEL [THREADS] [SOTTO]}
threads=${2:-2}
sotto=${3:-sotto}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
text="The quick brown fox jumps over the lazy dog. We measure how fast the engine transcribes \
speech. Every window of thirty seconds is encoded once and decoded token by token."
flite -t "$text" -o "$dir/part.wav"
# loop the part until it is at least 600 s long, then cut to exactly 600 s
len=$(soxi -D "$dir/part.wav")
reps=$(awk -v l="$len" 'BEGIN { print int(600 / l) + 1 }')
sox "$dir/part.wav" -r 16000 -c 1 "$dir/long.wav" repeat "$reps" trim 0 600
"$sotto" bench --json --greedy -m "$model" -t "$threads" "$dir/long.wav"
