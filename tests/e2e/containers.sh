#!/usr/bin/env bash
# Proves: the same speech gives the same transcript in every container and sample format
# (WAV 8/16/24/32-bit and float, 8/44.1 kHz, stereo, FLAC, MP3, Ogg Vorbis, Opus, M4A/AAC,
# WebM, the audio track of an MP4 video, raw PCM).
. "$(dirname "$0")/lib.sh"
# One `sotto transcribe` for all the files (the recognizer loads once, not 14 times: about
# 5 s of the test's CPU in a Release build, more under sanitizers). Each file gets a name
# of its own (fmt.flac and fmt.mp3 would both write fmt.txt); FFmpeg reads the content,
# not the name. A transcript never depends on the files decoded before it in the same
# process (checked when this was changed: each equals its one-file run, byte for byte).
files="fmt_s16.wav fmt_u8.wav fmt_s24.wav fmt_s32.wav fmt_f32.wav fmt_44k_stereo.wav fmt_8k.wav
       fmt.flac fmt.mp3 fmt.ogg fmt.opus fmt.m4a fmt.webm fmt_video.mp4"
mkdir "$TMP/in" "$TMP/txt"
inputs=()
for f in $files; do
  ln -s "$FX/$f" "$TMP/in/${f//./_}.${f##*.}"
  inputs+=("$TMP/in/${f//./_}.${f##*.}")
done
"$SOTTO" transcribe -q -f txt -o "$TMP/txt" "${inputs[@]}"
txt() { echo "$TMP/txt/${1//./_}.txt"; }
cp "$(txt fmt_s16.wav)" "$TMP/ref.txt"
[ -s "$TMP/ref.txt" ] || fail "empty reference transcript"
echo "reference: $(cat "$TMP/ref.txt")"
bad=0
for f in $files; do
  [ "$f" = fmt_s16.wav ] && continue
  [ -e "$(txt "$f")" ] || fail "no transcript of $f"
  w=$("$SOTTO" wer --json "$TMP/ref.txt" "$(txt "$f")" | $PY -c 'import json,sys; print(json.load(sys.stdin)["wer"])')
  printf '%-20s WER vs wav %.3f  %s\n' "$f" "$w" "$(cat "$(txt "$f")")"
  # lossless inputs must match exactly; lossy codecs and 8 kHz may move at most one word
  case $f in
    fmt.mp3|fmt.ogg|fmt.opus|fmt.m4a|fmt.webm|fmt_video.mp4|fmt_8k.wav|fmt_u8.wav)
      $PY -c "import sys; sys.exit(0 if $w <= 0.125 else 1)" || { echo "  too different"; bad=1; } ;;
    *) cmp -s "$TMP/ref.txt" "$(txt "$f")" || { echo "  differs"; bad=1; } ;;
  esac
done
"$SOTTO" transcribe -q --raw s16le --rate 48000 --channels 2 "$FX/fmt_48k_stereo.s16le" > "$TMP/raw48.txt"
cmp -s "$TMP/ref.txt" "$TMP/raw48.txt" || { echo "raw 48k stereo differs: $(cat "$TMP/raw48.txt")"; bad=1; }
[ $bad -eq 0 ] || fail "some containers gave different transcripts"
