#!/usr/bin/env bash
# Proves: every kind of bad input gets one clear line naming the file and the reason, a
# non-zero exit code (3 for input errors), no crash, and no output file left behind;
# audio shorter than 0.1 s is an empty transcript, not an error.
. "$(dirname "$0")/lib.sh"
mkdir "$TMP/od"
check() { # check FILE EXPECTED_MESSAGE [EXIT]
  local f=$1 msg=$2 code=${3:-3}
  expect_exit "$code" "$SOTTO" transcribe -q -f txt,srt -o "$TMP/od" "$f"
  [ "$(wc -l < "$TMP/err")" -eq 1 ] || fail "$f: expected one line on stderr, got: $(cat "$TMP/err")"
  grep -qxF "sotto: error: $msg" "$TMP/err" || fail "$f: got '$(cat "$TMP/err")', expected 'sotto: error: $msg'"
  [ -z "$(ls -A "$TMP/od")" ] || fail "$f: output left behind: $(ls "$TMP/od")"
  echo "ok  $(cat "$TMP/err")"
}
check "$TMP/missing.wav" "cannot open '$TMP/missing.wav': no such file"
check "$FX" "'$FX' is a directory, not an audio file"
check "$FX/bad_empty.wav" "'$FX/bad_empty.wav' is empty"
check "$FX/bad_random.bin" "'$FX/bad_random.bin' is not a recognized audio file"
check "$FX/bad_text.txt" "'$FX/bad_text.txt' is not a recognized audio file"
check "$FX/bad_zero_channels.wav" "'$FX/bad_zero_channels.wav' has an invalid header: 0 channels"
check "$FX/bad_zero_rate.wav" "'$FX/bad_zero_rate.wav' has an invalid header: sample rate 0 Hz"
check "$FX/video_no_audio.mp4" "'$FX/video_no_audio.mp4' has no audio track"
# truncated files name the promised and the actual length
for f in bad_truncated.wav bad_lying_size.wav bad_truncated.mp3; do
  expect_exit 3 "$SOTTO" transcribe -q -f txt,srt -o "$TMP/od" "$FX/$f"
  grep -Eq "^sotto: error: '$FX/$f' is truncated: its header promises [0-9.]+ s of audio but the file holds [0-9.]+ s$" "$TMP/err" \
    || fail "$f: $(cat "$TMP/err")"
  [ -z "$(ls -A "$TMP/od")" ] || fail "$f: output left behind"
  echo "ok  $(cat "$TMP/err")"
done
# permission denied, as a user who cannot read the file (tests run as root)
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
  cp "$FX/fmt_s16.wav" "$TMP/secret.wav"; chmod 000 "$TMP/secret.wav"; chmod 755 "$TMP"
  chmod 777 "$TMP/od"
  set +e
  su -s /bin/sh nobody -c "'$SOTTO' transcribe -q -o '$TMP/od' '$TMP/secret.wav'" > "$TMP/su.log" 2> "$TMP/err"
  code=$?
  set -e
  [ $code -eq 3 ] || fail "permission denied exit $code: $(cat "$TMP/err")"
  grep -qxF "sotto: error: cannot open '$TMP/secret.wav': permission denied" "$TMP/err" || fail "perm: $(cat "$TMP/err")"
  echo "ok  $(cat "$TMP/err")"
fi
# a bad file among good ones: the good ones are written, the exit code reports the failure
expect_exit 3 "$SOTTO" transcribe -q -f txt -o "$TMP/od" "$FX/utt_00_kal16.wav" "$FX/bad_text.txt"
[ -s "$TMP/od/utt_00_kal16.txt" ] && [ ! -e "$TMP/od/bad_text.txt" ] || fail "mixed batch outputs"
rm -f "$TMP/od"/*
# too short to hold speech: empty transcript, success
expect_exit 0 "$SOTTO" transcribe -q -f json "$FX/short_50ms.wav"
$PY -c 'import json,sys; t=json.load(open(sys.argv[1])); assert t["segments"] == [] and t["text"] == "", t' "$TMP/out"
echo "ok  short audio -> empty transcript"
