#!/bin/sh
# vad_f1.sh - measure the speech-activity detector (sotto_vad_*): frame F1 per noise type
# and SNR, speech_end delay, recognizer calls saved by VAD chunking, CPU per hour.
# The measurement lives in tests/unit/test_vad_detector.c (all audio generated there
# with flite and fixed seeds); this script builds it in Release and prints its "vad:" lines.
# Usage: bench/vad_f1.sh [build-dir]   (default build-vad-bench)
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build-vad-bench}
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target test_vad_detector >/dev/null
for t in f1_noise_table f1_babble_other_seeds end_latency chunking_saves_calls; do
    "$build/test_vad_detector" "$t" | grep '^vad:'
done
