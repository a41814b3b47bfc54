#!/usr/bin/env bash
# fuzz.sh [SECONDS] - build every libFuzzer target with clang (build-fuzz/) and run each
# for SECONDS (default 20) over its seed corpus plus the generated fixtures. A crash,
# leak or sanitizer report fails the run; the crashing input is kept in build-fuzz/crashes.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-${FUZZ_SECONDS:-20}}
command -v clang >/dev/null || { echo "fuzz: clang is missing; run 'make deps'" >&2; exit 1; }
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DSOTTO_FUZZ=ON >/dev/null
targets=$(ls tests/fuzz/fuzz_*.c | xargs -n1 basename | sed 's/\.c$//')
cmake --build build-fuzz -j "$(nproc)" --target $targets
tests/fixtures/make_speech.sh build-fuzz/fixtures >/dev/null
mkdir -p build-fuzz/crashes
for t in $targets; do
  corpus=build-fuzz/corpus/$t
  mkdir -p "$corpus"
  seeds=tests/fuzz/corpus/$t
  echo "fuzz: $t for ${secs}s"
  # fixtures are a rich seed set for the audio parser; other targets bring their own seeds
  extra=()
  [ "$t" = fuzz_audio ] && extra=(build-fuzz/fixtures)
  log=build-fuzz/$t.log
  if ! ASAN_OPTIONS=detect_leaks=1 build-fuzz/$t -max_total_time="$secs" -max_len=262144 -rss_limit_mb=2048 \
    -timeout=10 -artifact_prefix=build-fuzz/crashes/ -print_final_stats=1 \
    "$corpus" $( [ -d "$seeds" ] && echo "$seeds" ) "${extra[@]}" >"$log" 2>&1; then
    # show the report itself (not only the stats), so a CI log says what broke
    grep -v -E '^#[0-9]+' "$log" | tail -60 >&2
    echo "fuzz: $t failed; the input is in build-fuzz/crashes/ (replay: build-fuzz/$t FILE)" >&2
    exit 1
  fi
  tail -4 "$log"
done
echo "fuzz: no crashes"
