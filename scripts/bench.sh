#!/usr/bin/env bash
# bench.sh BUILD [MINUTES] - synthesize a long recording (flite sentences between pauses,
# default 10 minutes) and run `sotto bench` on it: decode speed, recognition RTF, peak RSS.
# For the README's memory figure run it with 120 minutes.
set -euo pipefail
build=${1:-build}
minutes=${2:-${MINUTES:-10}}
work=$build/bench
mkdir -p "$work"
long=$work/speech_${minutes}min.flac
if [ ! -f "$long" ]; then
  here=$(cd "$(dirname "$0")/.." && pwd)
  i=0
  while IFS= read -r line && [ $i -lt 12 ]; do
    v=(kal16 rms slt awb); v=${v[$((i % 4))]}
    flite -voice "$v" -t "$line" -o "$work/p$i.wav"
    sox -q "$work/p$i.wav" -r 16000 -c 1 -b 16 "$work/q$i.wav" pad 0.3 1.2
    i=$((i + 1))
  done < "$here/tests/fixtures/sentences.txt"
  sox -q "$work"/q*.wav "$work/block.wav"
  block_s=$(soxi -D "$work/block.wav")
  reps=$(awk -v m="$minutes" -v b="$block_s" 'BEGIN { r = int(m * 60 / b + 0.999); print (r < 1 ? 1 : r) }')
  # sox repeats the block in one streaming pass (no whole file in memory); FLAC keeps it small
  sox -q "$work/block.wav" "$long" repeat $((reps - 1))
  rm -f "$work"/p*.wav "$work"/q*.wav "$work/block.wav"
fi
"$build/sotto" bench "$long"
