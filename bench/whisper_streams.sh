#!/usr/bin/env bash
# whisper_streams.sh [BUILD] [THREADS] [ROUNDS] [STREAMS] - N concurrent Whisper align_att
# streams on one random tiny q8_0 model: decoder CPU per token and wall tokens/s with the
# streams' decoder steps serialized (one lock, as before the step batcher) vs batched
# (whisper_batcher: coinciding steps run as one whisper_decode_multi pass), A/B
# interleaved. BUILD is a build tree (Release) holding sotto and tools/whisper_streams_bench.
# A random model never says end-of-text: every window decodes to the token limit (224).
set -euo pipefail
build=${1:-build}
threads=${2:-2}
rounds=${3:-3}
streams=${4:-1,2,4}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$build/sotto" model new --dims tiny --type q8_0 -o "$dir/tiny-q8_0.bin" >/dev/null
"$build/tools/whisper_streams_bench" "$dir/tiny-q8_0.bin" -t "$threads" -r "$rounds" -n "$streams"
