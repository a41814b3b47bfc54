#!/usr/bin/env bash
# demo.sh SOTTO - synthesize a few sentences with flite, transcribe them offline with the
# embedded recognizer, and show the transcript with timings and its word error rate.
set -euo pipefail
sotto=${1:-build/sotto}
dir=$(mktemp -d /tmp/sotto-demo.XXXXXX)
trap 'rm -rf "$dir"' EXIT
sentences=(
  "the birch canoe slid on the smooth planks"
  "glue the sheet to the dark blue background"
  "it is easy to tell the depth of a well"
  "rice is often served in round bowls"
)
voices=(kal16 rms kal16 slt)
parts=()
for i in "${!sentences[@]}"; do
  flite -voice "${voices[$i]}" -t "${sentences[$i]}" -o "$dir/s$i.raw.wav"
  sox -q "$dir/s$i.raw.wav" -r 16000 -c 1 -b 16 "$dir/s$i.wav" pad 0.2 0.8
  parts+=("$dir/s$i.wav")
  echo "${sentences[$i]}" >> "$dir/reference.txt"
done
sox -q "${parts[@]}" "$dir/demo.wav"
# the same speech as MP3, to show that containers do not matter
ffmpeg -nostdin -loglevel error -y -i "$dir/demo.wav" -b:a 64k "$dir/demo.mp3"
echo "== synthesized $(soxi -D "$dir/demo.wav" | cut -c1-5) s of speech (flite voices: ${voices[*]}); reference:"
sed 's/^/   /' "$dir/reference.txt"
echo
echo "== sotto transcribe -f srt demo.mp3"
"$sotto" transcribe -q -f srt "$dir/demo.mp3" | tee "$dir/demo.srt"
"$sotto" transcribe -q -f txt "$dir/demo.mp3" > "$dir/hypothesis.txt"
echo "== sotto wer reference.txt hypothesis.txt"
"$sotto" wer "$dir/reference.txt" "$dir/hypothesis.txt"
