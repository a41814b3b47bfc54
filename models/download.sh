#!/usr/bin/env bash
# download.sh MODEL [DIR] - fetch a Whisper model in whisper.cpp's ggml format.
#
# The same files whisper.cpp users download (ggml-MODEL.bin from the whisper.cpp model
# repository on Hugging Face). sotto reads them as they are:
#   models/download.sh base.en
#   sotto transcribe -m models/ggml-base.en.bin talk.mp3
# Needs network access, curl or wget, and disk space (tiny 75 MB ... large-v3 2.9 GB).
set -euo pipefail
models="tiny tiny.en tiny-q5_1 tiny.en-q5_1 tiny-q8_0 base base.en base-q5_1 base.en-q5_1 base-q8_0
small small.en small-q5_1 small.en-q5_1 small-q8_0 medium medium.en medium-q5_0 medium.en-q5_0
medium-q8_0 large-v1 large-v2 large-v2-q5_0 large-v2-q8_0 large-v3 large-v3-q5_0 large-v3-turbo
large-v3-turbo-q5_0 large-v3-turbo-q8_0"
src=${SOTTO_MODEL_URL:-https://huggingface.co/ggerganov/whisper.cpp/resolve/main}

usage() {
  echo "usage: $0 MODEL [DIR]" >&2
  echo "models:" $models | fold -s -w 90 >&2
  exit 2
}
[ $# -ge 1 ] || usage
model=$1
dir=${2:-$(cd "$(dirname "$0")" && pwd)}
case " $(echo $models) " in *" $model "*) ;; *) echo "unknown model '$model'" >&2; usage ;; esac
file="$dir/ggml-$model.bin"
if [ -s "$file" ]; then
  echo "$file already exists"
  exit 0
fi
mkdir -p "$dir"
echo "downloading ggml-$model.bin to $dir ..."
tmp="$file.part"
if command -v curl >/dev/null; then
  curl -fL --progress-bar -o "$tmp" "$src/ggml-$model.bin"
elif command -v wget >/dev/null; then
  wget -q --show-progress -O "$tmp" "$src/ggml-$model.bin"
else
  echo "need curl or wget (apt-get install curl)" >&2
  exit 1
fi
mv "$tmp" "$file"
echo "done: $file"
echo "check it:   sotto model info $file"
echo "use it:     sotto transcribe -m $file audio.wav"
