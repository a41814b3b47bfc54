#!/usr/bin/env bash
# labels: slow
# Proves: `sotto model new` writes random-weight models of every weight type that load
# (`model info`), quantize, and transcribe through `sotto transcribe --backend whisper`,
# with JSON carrying token ids, avg_logprob, compression_ratio, no_speech_prob and
# temperature per segment. Random weights give gibberish text: structure is checked.
. "$(dirname "$0")/lib.sh"
dims="--dims custom --state 64 --heads 2 --enc-layers 2 --dec-layers 3"
for type in f32 f16 q8_0 q5_0 q5_1 q4_0 q4_1; do
  "$SOTTO" model new $dims --type $type --seed 7 -o "$TMP/m-$type.bin" 2>/dev/null
  "$SOTTO" model info "$TMP/m-$type.bin" > "$TMP/info.txt"
  grep -q "^weights: *$type$" "$TMP/info.txt" || fail "$type: $(cat "$TMP/info.txt")"
  grep -Eq '^sha256: *[0-9a-f]{64}$' "$TMP/info.txt" || fail "$type: no sha256"
  "$SOTTO" transcribe -q --backend whisper -m "$TMP/m-$type.bin" --no-fallback --beam-size 1 \
    -f json "$FX/utt_00_kal16.wav" > "$TMP/$type.json"
  $PY - "$TMP/$type.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
assert t["duration"] > 1 and t["language"], t
for s in t["segments"]:
    for k in ("tokens", "avg_logprob", "compression_ratio", "no_speech_prob", "temperature"):
        assert k in s, (k, s)
    assert all(0 <= tok < 50257 for tok in s["tokens"])
    assert 0 <= s["start"] <= s["end"] <= t["duration"] + 0.02
    assert s["avg_logprob"] <= 0 and 0 <= s["no_speech_prob"] <= 1
PY
  echo "ok  $type: $(grep -c '' "$TMP/info.txt") info lines, $($PY -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["segments"]))' "$TMP/$type.json") segments"
done
# quantize an f16 model to q8_0: it loads and transcribes the same audio
"$SOTTO" model quantize "$TMP/m-f16.bin" "$TMP/m-q.bin" q8_0 2>/dev/null
"$SOTTO" model info "$TMP/m-q.bin" | grep -q "^weights: *q8_0$" || fail "quantized type"
# decoding options run: beam search, sampling with best-of, translate, no timestamps, prompt,
# word timestamps, language detection; the English-only variant too
m="$TMP/m-f16.bin"
run() { "$SOTTO" transcribe -q --backend whisper -m "$m" -f json "$@" "$FX/utt_00_kal16.wav" > "$TMP/opt.json" \
  && $PY -c 'import json,sys; json.load(open(sys.argv[1]))' "$TMP/opt.json" || fail "options: $*"; echo "ok  $*"; }
run --no-fallback --beam-size 3
run --no-fallback --temperature 0.5 --best-of 2
run --no-fallback --beam-size 1 --translate -l nl
run --no-fallback --beam-size 1 --no-timestamps --prompt "quarterly budget review"
run --no-fallback --beam-size 1 --word-timestamps
run --no-fallback --beam-size 1 -l auto
"$SOTTO" model new $dims --en --type q8_0 -o "$TMP/m-en.bin" 2>/dev/null
m="$TMP/m-en.bin" run --no-fallback --beam-size 1
# errors are one clear line
expect_exit 2 "$SOTTO" transcribe --backend whisper "$FX/utt_00_kal16.wav"
grep -qx "sotto: error: the whisper backend needs a model file: -m FILE" "$TMP/err" || fail "$(cat "$TMP/err")"
head -c 100000 "$TMP/m-f16.bin" > "$TMP/cut.bin"
expect_exit 4 "$SOTTO" transcribe -m "$TMP/cut.bin" "$FX/utt_00_kal16.wav"
grep -q "^sotto: error: model file truncated" "$TMP/err" || fail "truncated model: $(cat "$TMP/err")"
echo "ok  $(cat "$TMP/err")"
expect_exit 2 "$SOTTO" model new --dims huge -o "$TMP/x.bin"
grep -q "unknown Whisper size 'huge'" "$TMP/err" || fail "$(cat "$TMP/err")"
