"""Weights streamed from their files: the same tensors as the libraries read, in chunks and threads, and the
loader's RAM bounded by the weights themselves (no whole shard mapped, no whole-tensor temporaries)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from pusa_engine.errors import ModelFilesError
from pusa_engine.weight_stream import WeightStreamer, contiguous_stride, safetensors_index, torch_file_index

CPU = torch.device("cpu")
ROOT = Path(__file__).resolve().parents[2]


def _tensors() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        "big": torch.randn(300, 257, generator=g),
        "half": torch.randn(33, 7, generator=g).to(torch.bfloat16),
        "ids": torch.arange(50, dtype=torch.int64),
        "mask": torch.rand(19, generator=g) > 0.5,
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 4),
    }


def _stream(path: Path, index, dtype=None, threads=2, chunk=1024) -> dict[str, torch.Tensor]:
    streamer = WeightStreamer(CPU, threads=threads, chunk=chunk)
    return {name: t for _, name, t in streamer.stream(((path, st) for st in index), dtype)}


@pytest.mark.parametrize("threads", [1, 3])
def test_safetensors_streamed_in_chunks_equal_the_library(tmp_path, threads):
    path = tmp_path / "w.safetensors"
    save_file(_tensors(), str(path))
    ref = load_file(str(path))
    got = _stream(path, safetensors_index(path), threads=threads, chunk=1000)  # chunks not a multiple of 4
    assert set(got) == set(ref)
    for k, v in ref.items():
        assert got[k].dtype == v.dtype and got[k].shape == v.shape and torch.equal(got[k], v), k


def test_cast_while_streaming_equals_casting_after(tmp_path):
    path = tmp_path / "w.safetensors"
    floats = {k: v for k, v in _tensors().items() if v.is_floating_point()}
    save_file(floats, str(path))
    got = _stream(path, safetensors_index(path), torch.bfloat16, chunk=512)
    for k, v in floats.items():
        assert got[k].dtype == torch.bfloat16 and torch.equal(got[k], v.to(torch.bfloat16)), k


def test_torch_checkpoints_stream_with_their_views(tmp_path):
    """A .pth keeps storages, strides and offsets: transposed tensors and slices come back as saved."""
    path = tmp_path / "w.pth"
    base = torch.randn(10, 12)
    state = {**_tensors(), "transposed": base.t(), "slice": base[2:5], "alias": base}
    torch.save(state, path)
    index = torch_file_index(path)
    if index is None:
        pytest.skip("this torch does not record checkpoint offsets")
    got = _stream(path, index, chunk=256)
    for k, v in state.items():
        assert torch.equal(got[k], v), k
        assert got[k].is_contiguous()


def test_a_truncated_shard_is_one_line(tmp_path):
    path = tmp_path / "w.safetensors"
    save_file({"a": torch.randn(1000)}, str(path))
    index = safetensors_index(path)
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size - 100)
    with pytest.raises(ModelFilesError, match="ended early") as e:
        _stream(path, index)
    assert "\n" not in str(e.value)


def test_contiguous_strides():
    for shape in [(3, 4, 5), (7,), (), (0, 3), (2, 0, 4)]:
        assert contiguous_stride(shape) == torch.empty(shape).stride()


_CHILD = r"""
import json, sys, threading, time, psutil, torch
from pathlib import Path
from pusa_engine.loader import load_dit
from pusa_engine.model_files import ModelFolder
proc = psutil.Process(); base = proc.memory_info().rss; peak = [base]; stop = []
def watch():
    while not stop:
        peak[0] = max(peak[0], proc.memory_info().rss); time.sleep(0.005)
th = threading.Thread(target=watch, daemon=True); th.start()
m = load_dit(ModelFolder(Path(sys.argv[1])), torch.bfloat16, torch.device("cpu"))
stop.append(1); th.join()
n = sum(p.numel() for p in m.parameters())
print(json.dumps({"params": n, "growth": max(peak[0], proc.memory_info().rss) - base}))
"""


def test_loading_fp32_shards_holds_only_the_bf16_weights(tmp_path):
    """One fp32 shard (as on the hub) loaded to the CPU in bf16: RSS grows by the bf16 weights and the
    readers' buffers, not by the shard (the old memory-mapped loader held all of its 4 bytes a parameter)."""
    from pusa_engine.model_files import DiTConfig
    from pusa_engine.networks import build_dit
    from pusa_engine.official_layout import write_config, write_dit_shards
    from pusa_engine.weight_stream import CHUNK

    config = DiTConfig(dim=768, ffn_dim=3072, freq_dim=256, in_dim=16, out_dim=16, num_heads=12, num_layers=6,
                       eps=1e-6, text_dim=64)
    write_config(tmp_path, config)
    shapes = {k: tuple(v.shape) for k, v in build_dit(config).state_dict().items()}
    g = torch.Generator().manual_seed(0)
    write_dit_shards(tmp_path, shapes, lambda k: torch.randn(shapes[k], generator=g), 1)
    r = subprocess.run([sys.executable, "-c", _CHILD, str(tmp_path)], capture_output=True, text=True, timeout=300,
                       cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    shard_bytes = 4 * res["params"]
    extra = res["growth"] - 2 * res["params"]
    assert extra < 2 * CHUNK + 48 * 2**20 < shard_bytes / 2, (res, extra / 2**20)
