#!/usr/bin/env bash
# whisper_streams.sh [BUILD] [THREADS] [ROUNDS] [STREAMS] [MODE] - N concurrent Whisper
# streams on one random tiny q8_0 model, A/B interleaved. BUILD is a build tree (Release)
# holding sotto and tools/whisper_streams_bench. MODE:
#   att (default)  align_att: decoder CPU per token and wall tokens/s with the streams'
#                  decoder steps serialized (one lock, as before the step batcher) vs
#                  batched (whisper_batcher: coinciding steps run as one decode pass);
#   la             local_agreement: one greedy whole-buffer decode (3 s, word times) per
#                  stream at once, on the recognizer's shared run state under its lock (as
#                  before private runners) vs each stream's own asr_runner: CPU per decode,
#                  wall decodes/s, cores busy, resident MB per private runner;
#   all            both.
# A random model never says end-of-text: every window decodes to the token limit (224).
set -euo pipefail
build=${1:-build}
threads=${2:-2}
rounds=${3:-3}
streams=${4:-1,2,4}
mode=${5:-att}
case "$mode" in att | la | all) ;; *) echo "whisper_streams.sh: MODE is att, la or all (got '$mode')" >&2; exit 2 ;; esac
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$build/sotto" model new --dims tiny --type q8_0 -o "$dir/tiny-q8_0.bin" >/dev/null
if [ "$mode" = att ] || [ "$mode" = all ]; then
  "$build/tools/whisper_streams_bench" "$dir/tiny-q8_0.bin" -t "$threads" -r "$rounds" -n "$streams"
fi
if [ "$mode" = la ] || [ "$mode" = all ]; then
  "$build/tools/whisper_streams_bench" "$dir/tiny-q8_0.bin" --la -t "$threads" -r "$rounds" -n "$streams"
fi
