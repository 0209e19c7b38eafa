#!/usr/bin/env bash
# Download, here, the wheels a lent GPU machine lacks, for its Python 3.12 (see benchmarks/device_setup.sh).
#   benchmarks/fetch_wheels.sh            -> .whl/   diffsynth and what it imports that the image lacks (~31 MB)
#   benchmarks/fetch_wheels.sh --fa4      -> .fa4/fa4.tar.xz: FlashAttention 4 and the CUTLASS DSL (92 MB of
#                                            wheels), unpacked, trimmed and xz-packed with the x86 filter: 56 MB,
#                                            one call's carry (without .whl; the attention bench needs no engine)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
PLAT=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64
      --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64)
get() { "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp "${PLAT[@]}" "$@"; }

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
mkdir -p "$tmp/site"
for w in "$tmp"/w/*.whl; do "$PY" -m zipfile -e "$w" "$tmp/site"; done
# not needed to run attention: sources of a third-party library, test helpers, a profiler, other platforms' stubs
rm -rf "$tmp/site/tvm_ffi/3rdparty" "$tmp/site/tvm_ffi/lib/libtvm_ffi_testing.so" \
  "$tmp/site/nvidia_cutlass_dsl/dsl_packages/iket/profiler" "$tmp/site/nvidia_cutlass_dsl/cu13/lib/stubs"
find "$tmp/site" -name __pycache__ -prune -exec rm -rf {} +
# the x86 filter and a dictionary as large as the biggest library (193 MB): 56 MB (plain xz -9e: 68 MB).
# Slow: about 10 minutes of one core.
rm -rf .fa4 && mkdir -p .fa4
tar -C "$tmp/site" -cf - . | xz --x86 --lzma2=preset=9e,dict=192MiB -T1 > .fa4/fa4.tar.xz
grep -qx "/.fa4/" .git/info/exclude 2>/dev/null || echo "/.fa4/" >> .git/info/exclude
du -b .fa4/fa4.tar.xz
