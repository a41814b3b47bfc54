#!/usr/bin/env bash
# Proves: `sotto listen` runs the live pipeline from the CLI: a file gives the expected
# words (WER against the known text) as "[mm:ss.s - mm:ss.s] text" lines; --json lines
# parse and finals are append-only with increasing segment ids; --realtime takes about
# real time; --follow picks up a WAV another process is still writing (header sizes left
# 0, slow start) and gives the same transcript as the whole file, ending --idle seconds
# after growth stops or at once when the writer finalizes the header; raw PCM follows
# too; --mic without a sound device fails with one line saying what to do; bad inputs and
# bad options are one-line errors with the documented exit codes.
. "$(dirname "$0")/lib.sh"
UTT="$FX/utt_00_kal16.wav"
now() { $PY -c 'import time; print(time.monotonic())'; }
dur() { $PY -c 'import sys,wave; w=wave.open(sys.argv[1]); print(w.getnframes()/w.getframerate())' "$1"; }
# text of the final lines of the terminal format, one line per segment
finals_text() { sed -E 's/^\[[0-9]{2}:[0-9]{2}\.[0-9] - [0-9]{2}:[0-9]{2}\.[0-9]\] //' "$1" | tr '\n' ' '; }
wer_of() { "$SOTTO" wer --json "$1" "$2" | $PY -c 'import json,sys; print(json.load(sys.stdin)["wer"])'; }

# --- help answers questions -------------------------------------------------------------
"$SOTTO" help listen | grep -q -- '--follow FILE' || fail "help listen"
"$SOTTO" listen --help | grep -q 'sotto listen --mic' || fail "listen --help has no examples"
"$SOTTO" help | grep -q '^  listen ' || fail "overview lists listen"

# --- FILE: the expected words, in the terminal line format -------------------------------
"$SOTTO" listen -q "$UTT" > "$TMP/file.out" 2> "$TMP/file.err" || fail "listen FILE: $(cat "$TMP/file.err")"
[ -s "$TMP/file.out" ] || fail "listen FILE printed nothing"
grep -Ev '^\[[0-9]{2}:[0-9]{2}\.[0-9] - [0-9]{2}:[0-9]{2}\.[0-9]\] .+$' "$TMP/file.out" \
  && fail "lines not in '[mm:ss.s - mm:ss.s] text' form"
grep -q $'\r' "$TMP/file.out" && fail "partials (carriage returns) printed to a non-terminal"
finals_text "$TMP/file.out" > "$TMP/file.txt"
w=$(wer_of "$FX/utt_00_kal16.txt" "$TMP/file.txt")
echo "listen FILE: WER $w: $(cat "$TMP/file.txt")"
$PY -c "import sys; sys.exit(0 if float('$w') <= 0.35 else 1)" || fail "WER $w > 0.35: $(cat "$TMP/file.txt")"

# --- --early-commit: words finalized mid-utterance, the same words within a sane WER ------
"$SOTTO" listen -q --early-commit "$UTT" > "$TMP/early.out" 2> "$TMP/early.err" || fail "--early-commit: $(cat "$TMP/early.err")"
finals_text "$TMP/early.out" > "$TMP/early.txt"
n_early=$(wc -l < "$TMP/early.out"); n_plain=$(wc -l < "$TMP/file.out")
[ "$n_early" -gt "$n_plain" ] || fail "--early-commit gave $n_early finals, no more than the $n_plain of a plain run"
w=$(wer_of "$FX/utt_00_kal16.txt" "$TMP/early.txt")
echo "listen --early-commit: $n_early finals, WER $w: $(cat "$TMP/early.txt")"
$PY -c "import sys; sys.exit(0 if float('$w') <= 0.5 else 1)" || fail "--early-commit WER $w > 0.5"

# --- --json: every line parses; finals append-only with ids 0,1,2...; same text ----------
"$SOTTO" listen -q --json --stats "$FX/two_utterances.wav" > "$TMP/j.out" 2> "$TMP/j.err" \
  || fail "listen --json: $(cat "$TMP/j.err")"
"$SOTTO" listen -q "$FX/two_utterances.wav" > "$TMP/two.out"
$PY - "$TMP/j.out" "$TMP/two.out" <<'EOF' || fail "--json events"
import json, re, sys
events = [json.loads(l) for l in open(sys.argv[1])]
assert events, "no events"
types = {e["type"] for e in events}
assert "final" in types and "stats" in types, types
finals = [e for e in events if e["type"] == "final"]
assert [f["segment_id"] for f in finals] == list(range(len(finals))), [f["segment_id"] for f in finals]
last_end = 0.0
for f in finals:
    assert f["text"].strip() and f["start"] <= f["end"] + 1e-6 and f["start"] >= last_end - 0.05, f
    last_end = f["end"]
    for w in f["words"]:
        assert set(w) == {"word", "start", "end", "p"} and w["start"] <= w["end"] + 1e-6 and 0 <= w["p"] <= 1, w
for e in events:
    if e["type"] == "partial": assert "text" in e and "start" in e and "end" in e, e
    if e["type"] in ("speech_start", "speech_end"): assert isinstance(e["t"], (int, float)), e
    if e["type"] == "stats": assert e["audio_s"] >= 0 and e["updates"] >= 0, e
plain = [re.sub(r"^\[[^]]*\] ", "", l.rstrip("\n")) for l in open(sys.argv[2])]
assert [f["text"] for f in finals] == plain, ([f["text"] for f in finals], plain)
print("json: %d events, %d finals" % (len(events), len(finals)))
EOF
grep -Eq '^sotto: stats: audio [0-9.]+ s, .*RTF [0-9.]+, .*updates [0-9]+, updates without VAD [0-9]+ \([0-9]+% calls saved\)' \
  "$TMP/j.err" || fail "--stats summary: $(cat "$TMP/j.err")"

# --- --realtime: paced like live audio -----------------------------------------------------
short="$FX/utt_03_kal16.wav"
d=$(dur "$short")
t0=$(now)
"$SOTTO" listen -q --realtime --stats "$short" > "$TMP/rt.out" 2> "$TMP/rt.err" || fail "--realtime: $(cat "$TMP/rt.err")"
t1=$(now)
# the summary's wall time runs from the first sample fed to the last event (model loading
# excluded): pacing makes it at least the audio's duration, and the tail adds little
wall=$(sed -nE 's/^sotto: stats: .*, wall ([0-9.]+) s,.*/\1/p' "$TMP/rt.err")
[ -n "$wall" ] || fail "--stats has no wall time: $(cat "$TMP/rt.err")"
echo "realtime: audio ${d}s, stream wall ${wall}s, process $($PY -c "print(round($t1-$t0,2))")s; $(grep latency "$TMP/rt.err" || true)"
$PY -c "import sys; sys.exit(0 if $d*0.97 <= $wall <= $d+3 else 1)" || fail "--realtime took $wall s for $d s of audio"
"$SOTTO" listen -q "$short" > "$TMP/fast.out"
cmp -s <(finals_text "$TMP/rt.out") <(finals_text "$TMP/fast.out") \
  || fail "--realtime transcript differs: $(cat "$TMP/rt.out") vs $(cat "$TMP/fast.out")"

# --- Ctrl-C: stops the input, still transcribes what was heard, exits 0 ------------------
"$SOTTO" listen -q --realtime --json "$FX/two_utterances.wav" > "$TMP/int.out" 2> "$TMP/int.err" &
lpid=$!
for _ in $(seq 200); do grep -q '"type":"partial"' "$TMP/int.out" && break; sleep 0.1; done
grep -q '"type":"partial"' "$TMP/int.out" || fail "no partial within 20 s: $(cat "$TMP/int.err")"
t0=$(now)
kill -INT $lpid
set +e; wait $lpid; rc=$?; set -e
t1=$(now)
[ "$rc" -eq 0 ] || fail "Ctrl-C: exit $rc, expected 0; $(cat "$TMP/int.err")"
$PY -c "import sys; sys.exit(0 if $t1-$t0 < 3 else 1)" || fail "Ctrl-C did not stop the input (took $($PY -c "print($t1-$t0)") s)"
$PY - "$TMP/int.out" <<'EOF2' || fail "Ctrl-C: the heard part was not finalized: $(cat "$TMP/int.out")"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
finals = [e for e in ev if e["type"] == "final"]
assert finals and finals[-1]["text"], finals
assert max(e["audio_s"] for e in ev if e["type"] == "stats") < 7.0  # stopped before the end
EOF2

# --- --follow: a writer appends a WAV's data in pieces; header sizes left 0 --------------
# Writer: starts late (the file appears after 0.6 s), writes the header with zero sizes,
# appends 0.2 s of audio every 0.1 s (twice real time), optionally rewrites the header.
cat > "$TMP/writer.py" <<'EOF'
import struct, sys, time
src, dst, finalize = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
b = open(src, "rb").read()
i = b.index(b"data")
header, data = bytearray(b[:i + 8]), b[i + 8:]
struct.pack_into("<I", header, 4, 0); struct.pack_into("<I", header, i + 4, 0)
time.sleep(0.6)
with open(dst, "wb") as f:
    f.write(header[:20]); f.flush(); time.sleep(0.2)   # a header written in two goes
    f.write(header[20:]); f.flush()
    step = 6400
    for k in range(0, len(data), step):
        f.write(data[k:k + step]); f.flush(); time.sleep(0.1)
    if finalize:
        f.seek(4); f.write(struct.pack("<I", len(header) - 8 + len(data)))
        f.seek(i + 4); f.write(struct.pack("<I", len(data))); f.flush()
print(time.monotonic(), flush=True)
EOF
# The second case (the writer finalizes the header) runs beside the first: both mostly
# wait on their writers' clocks. Its end time is taken by a subshell of its own.
( $PY "$TMP/writer.py" "$UTT" "$TMP/final.wav" 1 > "$TMP/writer2.done" &
  wpid=$!
  rc=0
  "$SOTTO" listen -q --follow --idle 20 "$TMP/final.wav" > "$TMP/final.out" 2> "$TMP/final.err" || rc=$?
  now > "$TMP/final.end"
  wait $wpid
  exit $rc ) &
fpid=$!
$PY "$TMP/writer.py" "$FX/two_utterances.wav" "$TMP/growing.wav" 0 > "$TMP/writer.done" &
wpid=$!
"$SOTTO" listen -q --follow --idle 2 --stats "$TMP/growing.wav" > "$TMP/follow.out" 2> "$TMP/follow.err" \
  || fail "--follow: $(cat "$TMP/follow.err")"
t_end=$(now)
wait $wpid
t_w=$(cat "$TMP/writer.done")
echo "follow (idle 2): ended $($PY -c "print(round($t_end-$t_w,2))") s after the writer's last byte"
cmp -s "$TMP/follow.out" "$TMP/two.out" \
  || fail "--follow transcript differs: $(cat "$TMP/follow.out") vs $(cat "$TMP/two.out")"
$PY -c "import sys; sys.exit(0 if 1.5 <= $t_end-$t_w <= 10 else 1)" || fail "--follow did not stop about 2 s after growth stopped"
# the writer finalizes the header: listen ends without waiting for --idle
wait $fpid || fail "--follow (finalized): $(cat "$TMP/final.err")"
t_end=$(cat "$TMP/final.end")
t_w=$(cat "$TMP/writer2.done")
echo "follow (finalized header): ended $($PY -c "print(round($t_end-$t_w,2))") s after the writer finished"
$PY -c "import sys; sys.exit(0 if $t_end-$t_w <= 12 else 1)" || fail "--follow waited for --idle after the header was finalized"
cmp -s "$TMP/final.out" "$TMP/file.out" || fail "--follow (finalized) differs: $(cat "$TMP/final.out")"
# raw PCM, already complete: read, then idle
"$SOTTO" listen -q --follow --idle 0.5 --raw s16le --rate 16000 --channels 1 "$FX/fmt.s16le" > "$TMP/raw.out" \
  || fail "--follow raw"
"$SOTTO" listen -q "$FX/fmt_s16.wav" > "$TMP/raw_ref.out"
cmp -s "$TMP/raw.out" "$TMP/raw_ref.out" || fail "--follow raw differs: $(cat "$TMP/raw.out") vs $(cat "$TMP/raw_ref.out")"
# a file that never appears
expect_exit 3 "$SOTTO" listen --follow --idle 0.5 "$TMP/never.wav"
grep -q "did not appear within" "$TMP/err" || fail "never-appearing file: $(cat "$TMP/err")"
expect_exit 3 "$SOTTO" listen --follow --idle 0.5 "$FX/bad_text.txt"
grep -q "is not a WAV file; --follow reads WAV, or raw PCM with --raw" "$TMP/err" || fail "follow non-WAV: $(cat "$TMP/err")"

# --- --mic without a sound device: one clear line, non-zero exit --------------------------
if [ ! -e /dev/snd ] && ! (command -v pactl >/dev/null && pactl info >/dev/null 2>&1); then
  expect_exit 3 "$SOTTO" listen --mic
  [ "$(wc -l < "$TMP/err")" -eq 1 ] || fail "--mic error is not one line: $(cat "$TMP/err")"
  grep -q "^sotto: error: no microphone 'default' (PulseAudio: .*; ALSA: .*): start PulseAudio" "$TMP/err" \
    || fail "--mic message: $(cat "$TMP/err")"
  grep -q -- "--device NAME" "$TMP/err" || fail "--mic message does not say what to do"
  expect_exit 3 "$SOTTO" listen --mic --device alsa:hw:7
  grep -q "no microphone 'hw:7' (PulseAudio: not tried; ALSA: " "$TMP/err" || fail "--device alsa: $(cat "$TMP/err")"
fi

# --- --mic capture path on ALSA's "null" device (where alsa-lib is configured) ---------
# The null plugin delivers whatever its buffer holds (not necessarily zeros) as fast as it
# is read, so only the capture path is checked here: it opens, reads, and Ctrl-C finishes.
if [ -e /usr/share/alsa/alsa.conf ]; then
  "$SOTTO" listen -q --mic --device alsa:null --stats > "$TMP/null.out" 2> "$TMP/null.err" &
  mpid=$!
  # short: the null device is not paced (hundreds of seconds of "audio" per second), and a
  # stream whose backlog passes 600 s stops with an error, as a live source should
  sleep 2
  kill -INT $mpid
  set +e; wait $mpid; rc=$?; set -e
  [ "$rc" -eq 0 ] || fail "--mic alsa:null: exit $rc; $(cat "$TMP/null.err")"
  grep -q "^sotto: listen: alsa 'null', 16000 Hz, 1 ch" "$TMP/null.err" || fail "--mic alsa:null: $(cat "$TMP/null.err")"
  grep -Eq "^sotto: stats: audio [0-9]*[1-9][0-9]*\.[0-9]+ s" "$TMP/null.err" \
    || fail "--mic alsa:null captured nothing: $(cat "$TMP/null.err")"
fi

# --- bad inputs and options: one line each, documented exit codes ------------------------
one_line() { [ "$(wc -l < "$TMP/err")" -eq 1 ] && grep -q '^sotto: error: ' "$TMP/err" || fail "$1: $(cat "$TMP/err")"; }
expect_exit 3 "$SOTTO" listen "$TMP/missing.wav";   one_line "missing file"
grep -q "missing.wav" "$TMP/err" || fail "missing file message does not name it"
expect_exit 3 "$SOTTO" listen "$FX/bad_random.bin"; one_line "garbage file"
expect_exit 3 "$SOTTO" listen "$FX/bad_text.txt";   one_line "text file"
expect_exit 2 "$SOTTO" listen;                      one_line "no input"
expect_exit 2 "$SOTTO" listen --mic "$UTT";         one_line "two sources"
expect_exit 2 "$SOTTO" listen --realtime --mic;     one_line "--realtime --mic"
expect_exit 2 "$SOTTO" listen --idle 2 "$UTT";      one_line "--idle without --follow"
expect_exit 2 "$SOTTO" listen --policy fastest "$UTT"; one_line "bad policy"
expect_exit 2 "$SOTTO" listen --domain cooking "$UTT"; one_line "bad domain"
grep -q "medical" "$TMP/err" || fail "bad domain message does not list the domains"
expect_exit 2 "$SOTTO" listen --policy align_att "$UTT"; one_line "align_att on sphinx"
expect_exit 2 "$SOTTO" listen --task dictate "$UTT"; one_line "bad task"
expect_exit 2 "$SOTTO" listen --raw s16le "$FX/fmt.s16le"; one_line "raw without rate"
echo "ok"
