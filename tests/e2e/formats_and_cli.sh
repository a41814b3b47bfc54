#!/usr/bin/env bash
# Proves: the CLI's output policy and formats: one file + one format prints to stdout;
# several formats write <name>.<ext> beside the input or into -o DIR; SRT/VTT/TSV/JSON
# are well formed; stdin and raw PCM input work; usage errors exit 2 with one line.
. "$(dirname "$0")/lib.sh"
"$SOTTO" --version | grep -Eq '^sotto [0-9]+\.[0-9]+\.[0-9]+$' || fail "--version"
"$SOTTO" help transcribe | grep -q -- '--word-timestamps' || fail "help transcribe"
expect_exit 2 "$SOTTO" transcribe --bogus x.wav
grep -q "unknown option '--bogus'" "$TMP/err" || fail "unknown option message: $(cat "$TMP/err")"
expect_exit 2 "$SOTTO" transcribe
expect_exit 2 "$SOTTO" transcribe -f docx "$FX/fmt_s16.wav"
grep -q "unknown format 'docx'" "$TMP/err" || fail "format message: $(cat "$TMP/err")"
expect_exit 2 "$SOTTO" nonsense
# stdout for one file, one format
"$SOTTO" transcribe -q "$FX/fmt_s16.wav" > "$TMP/stdout.txt"
grep -Eq "company|working|years" "$TMP/stdout.txt" || fail "txt on stdout: $(cat "$TMP/stdout.txt")"
# several formats beside the input (copy it so the fixtures dir stays clean)
cp "$FX/utt_00_kal16.wav" "$TMP/talk.wav"
"$SOTTO" transcribe -q -f txt,json,srt,vtt,tsv "$TMP/talk.wav"
for ext in txt json srt vtt tsv; do [ -s "$TMP/talk.$ext" ] || fail "talk.$ext missing"; done
ls "$TMP" | grep -q 'tmp-' && fail "temporary file left behind"
head -1 "$TMP/talk.vtt" | grep -qx 'WEBVTT' || fail "vtt header"
grep -Eq '^[0-9]{2}:[0-9]{2}:[0-9]{2},[0-9]{3} --> [0-9]{2}:[0-9]{2}:[0-9]{2},[0-9]{3}$' "$TMP/talk.srt" || fail "srt timing line"
head -1 "$TMP/talk.srt" | grep -qx '1' || fail "srt numbering"
grep -Eq '^[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} --> ' "$TMP/talk.vtt" || fail "vtt timing line"
head -1 "$TMP/talk.tsv" | grep -qP '^start\tend\ttext$' || fail "tsv header"
$PY -c 'import json,sys; t=json.load(open(sys.argv[1])); assert t["segments"] and "text" in t and t["duration"] > 1' "$TMP/talk.json"
# -o DIR
mkdir "$TMP/odir"
"$SOTTO" transcribe -q -f srt -o "$TMP/odir" "$FX/utt_00_kal16.wav" "$FX/utt_03_kal16.wav"
[ -s "$TMP/odir/utt_00_kal16.srt" ] && [ -s "$TMP/odir/utt_03_kal16.srt" ] || fail "-o DIR outputs"
# stdin and raw PCM give the same words as the file
"$SOTTO" transcribe -q - < "$FX/fmt_s16.wav" > "$TMP/stdin.txt"
cmp -s "$TMP/stdin.txt" "$TMP/stdout.txt" || fail "stdin transcript differs: $(cat "$TMP/stdin.txt")"
"$SOTTO" transcribe -q --raw s16le --rate 16000 --channels 1 "$FX/fmt.s16le" > "$TMP/raw.txt"
cmp -s "$TMP/raw.txt" "$TMP/stdout.txt" || fail "raw transcript differs: $(cat "$TMP/raw.txt")"
expect_exit 2 "$SOTTO" transcribe --raw s16le "$FX/fmt.s16le"
grep -q -- "--raw needs --rate and --channels" "$TMP/err" || fail "raw message"
# models lists the embedded backend as available
"$SOTTO" models | grep -E '^sphinx +available' >/dev/null || fail "models: $("$SOTTO" models)"
echo "ok"
