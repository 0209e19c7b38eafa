# Source this on a lent GPU machine (its image has torch, triton, transformers, safetensors, psutil, opencv, but
# not diffsynth): installs the wheels carried in .whl/ into /tmp/site and puts it and the checkout on PYTHONPATH.
#
#   here, once:  benchmarks/fetch_wheels.sh          (diffsynth 2.1.12, ftfy, wcwidth, imageio-ffmpeg: ~31 MB)
#   there:       . benchmarks/device_setup.sh && python3 -m benchmarks.gpu_run --kind 1gpu --out $OUT
#   FlashAttention 4: carry .fa4a in one call, .fa4b in the next (machine kept warm); from then on every call
#                finds it: . benchmarks/device_setup.sh; python3 -m benchmarks.attention --json $OUT/attention.json
#   Or both sets at once, installed and xz-compressed (benchmarks/fetch_wheels.sh --packed): carry .pka in one
#                call and .pkb in the next; after them nothing more is carried while the machine stays warm.
#
# diffsynth imports modelscope's snapshot_download at import time and nothing else of it; the engine never
# downloads, so a one-function stand-in replaces modelscope and its crypto dependencies (6 MB of wheels more).
for part in .pka/part.* .pkb/part.*; do
  [ -f "$part" ] && mkdir -p /tmp/pkparts && cp "$part" /tmp/pkparts/
done
if [ ! -f /tmp/pk.done ] && [ -f /tmp/pkparts/part.aa ] && [ -f /tmp/pkparts/part.ab ]; then
  cat /tmp/pkparts/part.* | python3 -c "import sys, tarfile; tarfile.open(fileobj=sys.stdin.buffer, mode='r|xz')\
.extractall('/tmp')" && touch /tmp/pk.done && echo "device_setup: packed wheels unpacked into /tmp/site, /tmp/fa4site" \
    || echo "device_setup: the packed wheels did not unpack"
fi
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || echo "device_setup: the wheels in .whl/ did not install"
elif [ ! -f /tmp/pk.done ]; then
  echo "device_setup: no .whl carried: the engine (diffsynth) cannot be imported, attention alone can run"
fi
if ! python3 -c "import modelscope" 2>/dev/null; then
  mkdir -p /tmp/site/modelscope
  cat > /tmp/site/modelscope/__init__.py <<'EOF'
"""Stand-in for modelscope on a benchmark machine: diffsynth imports snapshot_download; nothing downloads."""


def snapshot_download(*args, **kwargs):
    raise RuntimeError("no model hub on this machine: the benchmark writes its own model files")
EOF
fi
# FlashAttention 4 (benchmarks/fetch_wheels.sh --fa4): its wheels, 102 MB, travel as two parts in two calls to a
# machine kept warm (`carry: [".fa4a"]`, then `[".fa4b"]`); the second call installs them into /tmp/fa4site.
for part in .fa4a/part.* .fa4b/part.*; do
  [ -f "$part" ] && mkdir -p /tmp/fa4parts && cp "$part" /tmp/fa4parts/
done
if [ ! -d /tmp/fa4site/flash_attn ] && [ -f /tmp/fa4parts/part.aa ] && [ -f /tmp/fa4parts/part.ab ]; then
  mkdir -p /tmp/fa4w && cat /tmp/fa4parts/part.* | tar -C /tmp/fa4w -xf - \
    && python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/fa4site /tmp/fa4w/*.whl \
    && echo "device_setup: FlashAttention 4 installed" || echo "device_setup: FlashAttention 4 did not install"
fi
if [ -d /tmp/fa4site/flash_attn ]; then
  export PYTHONPATH="/tmp/fa4site:/tmp/fa4site/nvidia_cutlass_dsl/dsl_packages${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
python3 -c "import torch; print('device_setup: torch', torch.__version__, torch.cuda.device_count(), 'GPUs')"
python3 -c "import diffsynth, imageio_ffmpeg; print('device_setup: diffsynth', diffsynth.__file__, '| ffmpeg', \
imageio_ffmpeg.get_ffmpeg_exe())" 2>/dev/null || echo "device_setup: diffsynth not importable"
