#!/usr/bin/env bash
# Proves: `make demo`'s script runs end to end and transcribes its synthesized speech.
. "$(dirname "$0")/lib.sh"
bash "$SOTTO_SRC/scripts/demo.sh" "$SOTTO" > "$TMP/demo.log" 2>&1 || { cat "$TMP/demo.log"; fail "demo failed"; }
cat "$TMP/demo.log"
grep -q -- '-->' "$TMP/demo.log" || fail "no timed cues in demo output"
grep -Eq '^WER [0-9.]+%' "$TMP/demo.log" || fail "no WER line"
