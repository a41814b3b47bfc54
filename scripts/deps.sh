#!/usr/bin/env bash
# deps.sh - install the Debian packages sotto needs to build, test and run.
# Skips what is present; as root it runs apt-get, otherwise it prints the command to run.
set -euo pipefail
pkgs=(
  build-essential cmake pkg-config clang          # compilers (clang for libFuzzer)
  libavformat-dev libavcodec-dev libswresample-dev libavutil-dev libavdevice-dev  # audio decoding
  libpocketsphinx-dev libsphinxbase-dev pocketsphinx-en-us  # embedded recognizer + model
  zlib1g-dev                                      # compression ratio (Whisper decoding)
  libopenblas-dev                                 # sgemm baseline for the Whisper benchmark
  libsqlite3-dev libcivetweb-dev                  # the server: store and HTTP/WebSocket
  wrk                                             # server load benchmark
  flite espeak-ng sox ffmpeg                      # test speech synthesis and conversion
  python3 python3-numpy                           # independent NumPy reference for tests
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user  # NEON kernels cross-built, run under qemu (make test-neon)
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#pkgs[@]} packages present"
  exit 0
fi
echo "deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: not root; run: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
