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
# Targets run side by side, one per core (FUZZ_JOBS, default nproc): each still gets SECONDS
# of wall time on a core of its own, so the fuzzing per target is the same as one after
# another, in 1/cores of the time.
jobs_max=${FUZZ_JOBS:-$(nproc)}
fuzz_one() {
  local t=$1 corpus=build-fuzz/corpus/$1 seeds=tests/fuzz/corpus/$1 log=build-fuzz/$1.log
  mkdir -p "$corpus"
  # fixtures are a rich seed set for the audio parser; other targets bring their own seeds
  local extra=()
  [ "$t" = fuzz_audio ] && extra=(build-fuzz/fixtures)
  local rc=0
  ASAN_OPTIONS=detect_leaks=1 build-fuzz/$t -max_total_time="$secs" -max_len=262144 -rss_limit_mb=2048 \
    -timeout=10 -artifact_prefix=build-fuzz/crashes/ -print_final_stats=1 \
    "$corpus" $( [ -d "$seeds" ] && echo "$seeds" ) "${extra[@]}" >"$log" 2>&1 || rc=$?
  echo "$rc" > "build-fuzz/$t.rc"
}
for t in $targets; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
  echo "fuzz: $t for ${secs}s"
  rm -f "build-fuzz/$t.rc"
  fuzz_one "$t" &
done
wait
failed=0
for t in $targets; do
  log=build-fuzz/$t.log
  echo "fuzz: $t"
  if [ "$(cat "build-fuzz/$t.rc" 2>/dev/null || echo 1)" != 0 ]; then
    # show the report itself (not only the stats), so a CI log says what broke
    grep -v -E '^#[0-9]+' "$log" | tail -60 >&2
    echo "fuzz: $t failed; the input is in build-fuzz/crashes/ (replay: build-fuzz/$t FILE)" >&2
    failed=1
    continue
  fi
  tail -4 "$log"
done
[ "$failed" -eq 0 ] || exit 1
echo "fuzz: no crashes"
