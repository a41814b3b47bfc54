#!/usr/bin/env bash
# labels: measure
# Proves: the embedded recognizer transcribes 24 flite sentences (voices kal16, slt, rms)
# with a corpus word error rate of at most 12%, measured by `sotto wer`.
# A measurement, left to the Release pass: under the sanitizers its code runs in shorter
# tests: `transcribe` of several files into -o DIR (containers, formats_and_cli), `wer
# --json` (containers, listen_cli), the whole-file recognizer (sphinx, pipeline tests).
. "$(dirname "$0")/lib.sh"
files=()
while IFS=$'\t' read -r f voice ref; do files+=("$FX/$f"); done < "$FX/manifest.tsv"
[ ${#files[@]} -ge 20 ] || fail "expected >= 20 fixture sentences, got ${#files[@]}"
"$SOTTO" transcribe -q -f txt -o "$TMP" "${files[@]}"
: > "$TMP/counts"
while IFS=$'\t' read -r f voice ref; do
  stem=${f%.wav}
  printf '%s\n' "$ref" > "$TMP/$stem.ref"
  "$SOTTO" wer --json "$TMP/$stem.ref" "$TMP/$stem.txt" | sed "s/^/$voice /" >> "$TMP/counts"
done < "$FX/manifest.tsv"
$PY - "$TMP/counts" <<'PY'
import json, sys, collections
tot = collections.defaultdict(lambda: [0, 0])
for line in open(sys.argv[1]):
    voice, js = line.split(' ', 1)
    w = json.loads(js)
    e = w['substitutions'] + w['deletions'] + w['insertions']
    for k in (voice, 'all'):
        tot[k][0] += e; tot[k][1] += w['ref_words']
for k, (e, n) in sorted(tot.items()):
    print(f"{k:6s} WER {100.0 * e / n:5.1f}% ({e} errors / {n} words)")
e, n = tot['all']
sys.exit(0 if e / n <= 0.12 else 1)
PY
