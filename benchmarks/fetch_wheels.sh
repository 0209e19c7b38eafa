#!/usr/bin/env bash
# Download, here, the wheels a lent GPU machine lacks, for its Python 3.12 (see benchmarks/device_setup.sh).
#   benchmarks/fetch_wheels.sh            -> .whl/   diffsynth and what it imports that the image lacks (~31 MB)
#   benchmarks/fetch_wheels.sh --fa4      -> .fa4a/part.aa, .fa4b/part.ab: FlashAttention 4 and the CUTLASS DSL
#                                            (102 MB of wheels) in two parts, carried by two calls in a row
#   benchmarks/fetch_wheels.sh --packed   -> .pka/part.aa, .pkb/part.ab: both sets above installed here into
#                                            site/ and fa4site/ and xz-compressed (132 MB of wheels -> ~90 MB),
#                                            two parts that fit two calls with the checkout; after them the
#                                            machine has everything and later calls carry nothing
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
PLAT=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64
      --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64)
get() { "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp "${PLAT[@]}" "$@"; }

if [[ "${1:-}" == "--packed" ]]; then
  [ -d .fa4a ] && [ -d .fa4b ] && ls .whl/*.whl >/dev/null || { echo "run it without options and with --fa4 first"; exit 1; }
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp/w4"
  cat .fa4a/part.* .fa4b/part.* | tar -C "$tmp/w4" -xf -
  # the same files pip puts there: none of these wheels has a .data folder or scripts
  for w in .whl/*.whl; do unzip -q -o "$w" -d "$tmp/site"; done
  for w in "$tmp"/w4/*.whl; do unzip -q -o "$w" -d "$tmp/fa4site"; done
  tar -C "$tmp" -cf - site fa4site | xz -T0 -9 > "$tmp/all.tar.xz"
  half=$(( ($(stat -c %s "$tmp/all.tar.xz") + 1) / 2 ))
  split -b "$half" "$tmp/all.tar.xz" "$tmp/part."
  rm -rf .pka .pkb && mkdir -p .pka .pkb
  mv "$tmp/part.aa" .pka/ && mv "$tmp/part.ab" .pkb/
  for d in .pka .pkb; do grep -qx "/$d/" .git/info/exclude 2>/dev/null || echo "/$d/" >> .git/info/exclude; done
  du -b .pka/* .pkb/*
  exit 0
fi

if [[ "${1:-}" != "--fa4" ]]; then
  mkdir -p .whl
  # imageio-ffmpeg 0.6.0: the 0.8 wheel (68 MB) alone is over a call's 64 MiB
  get -d .whl diffsynth==2.1.12 ftfy==6.3.1 wcwidth==0.9.4 imageio-ffmpeg==0.6.0
  du -b .whl/*.whl | awk '{s+=$1; print} END {printf "total %.1f MB\n", s/1e6}'
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
get -d "$tmp/w" flash-attn-4==4.0.0b36 nvidia-cutlass-dsl==4.8.1 nvidia-cutlass-dsl-libs-base==4.8.1 \
  nvidia-cutlass-dsl-libs-core==4.8.1 nvidia-cutlass-dsl-libs-cu13==4.8.1 apache-tvm-ffi==0.1.15.post2 \
  torch-c-dlpack-ext==0.1.5 quack-kernels==0.6.5
du -b "$tmp"/w/*.whl
# 102 MB of wheels, more than one call carries (64 MiB): one tar split in two parts, one per call
rm -rf .fa4a .fa4b && mkdir -p .fa4a .fa4b
(cd "$tmp/w" && tar -cf - ./*.whl) | split -b 50M - "$tmp/part."
mv "$tmp/part.aa" .fa4a/ && mv "$tmp/part.ab" .fa4b/
for d in .fa4a .fa4b; do grep -qx "/$d/" .git/info/exclude 2>/dev/null || echo "/$d/" >> .git/info/exclude; done
du -b .fa4a/* .fa4b/*
