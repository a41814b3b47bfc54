#!/usr/bin/env bash
# Proves: word timings follow the known placement of speech: a sentence that starts at
# 2.0 s (after silence) has its first word start within 0.2 s of 2.0 s, and a sentence
# after a 3 s pause is a later segment that starts after the pause.
. "$(dirname "$0")/lib.sh"
"$SOTTO" transcribe -q -f json --word-timestamps "$FX/speech_at_2s.wav" > "$TMP/a.json"
$PY - "$TMP/a.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
words = [w for s in t['segments'] for w in s.get('words', [])]
assert words, "no words with timings"
first = words[0]['start']
print(f"first word '{words[0]['word']}' starts at {first:.3f} s (speech placed at 2.000 s)")
assert abs(first - 2.0) <= 0.2, first
starts = [w['start'] for w in words]
assert starts == sorted(starts), "word starts are not monotonic"
assert all(w['end'] >= w['start'] for w in words)
PY
"$SOTTO" transcribe -q -f json "$FX/pause_3s.wav" > "$TMP/b.json"
$PY - "$TMP/b.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
segs = t['segments']
assert len(segs) >= 2, f"expected 2 segments around the pause, got {len(segs)}"
print("segments:", [(round(s['start'], 2), round(s['end'], 2)) for s in segs])
assert segs[-1]['start'] > 3.0, segs[-1]['start']
PY
