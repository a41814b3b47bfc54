#!/usr/bin/env bash
# labels: slow
# Proves: random-weight models with the published tiny and base dimensions (multilingual
# and .en, f16 and quantized) are written, load, and transcribe through the CLI.

. "$(dirname "$0")/lib.sh"
for spec in "tiny f16" "tiny q5_1" "tiny --en q8_0" "base q4_0"; do
  set -- $spec
  size=$1; shift
  en=""; [ "$1" = "--en" ] && { en=--en; shift; }
  type=$1
  f="$TMP/$size$en-$type.bin"
  "$SOTTO" model new --dims $size $en --type $type -o "$f" 2>/dev/null
  "$SOTTO" model info "$f" | grep -q "^size: *$size" || fail "$spec info"
  SECONDS=0
  "$SOTTO" transcribe -q -m "$f" --no-fallback --beam-size 1 -f json "$FX/utt_00_kal16.wav" > "$TMP/out.json"
  $PY -c 'import json,sys; t=json.load(open(sys.argv[1])); assert t["duration"] > 1' "$TMP/out.json"
  echo "ok  $size $en $type: $(stat -c %s "$f") bytes, transcribed in ${SECONDS} s"
  rm -f "$f"
done
