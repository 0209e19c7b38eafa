"""Bad model folders and LoRA files: one line each from validation, never a traceback or a hang."""

from __future__ import annotations

import json
import os
import shutil
import struct
import threading
from pathlib import Path

import pytest
import torch

from pusa_engine.errors import InputMediaError, ModelFilesError
from pusa_engine.lora import load_lora_state
from pusa_engine.media import check_input_file, read_image
from pusa_engine.networks import T5Dims, build_text_encoder
from pusa_engine.validation import validate_model_files

SHARD = "diffusion_pytorch_model-00001-of-00002.safetensors"
LORA_WHERE = "download it again from Hugging Face RaphaelLiu/PusaV1"


class NotWeights:
    """Pickled by torch.save; torch.load(weights_only=True) refuses it with a long advice text."""


@pytest.fixture
def broken(demo_model, tmp_path) -> Path:
    src, _ = demo_model
    dst = tmp_path / "model"
    shutil.copytree(src, dst)
    return dst


def finishes(fn, seconds: float = 30.0):
    """fn's result (or exception), failing the test if it blocks (as opening a FIFO would)."""
    out: dict = {}

    def run() -> None:
        try:
            out["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the test
            out["error"] = e

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "blocked (opened a FIFO?)"
    return out


# ---- no false "different models" line ----------------------------------------------------------------------
def test_unreadable_shard_does_not_claim_text_encoder_mismatch(broken):
    shard = broken / SHARD
    shard.write_bytes(shard.read_bytes()[:-100])
    assert not any("different models" in p for p in validate_model_files(broken, None))


def test_real_text_encoder_mismatch_is_still_reported(broken):
    wide = build_text_encoder(T5Dims(vocab=384, dim=48, dim_attn=48, dim_ffn=64, num_heads=2, num_layers=2,
                                     num_buckets=32), device="cpu")
    torch.save(wide.state_dict(), broken / "models_t5_umt5-xxl-enc-bf16.pth")
    assert any("different models" in p for p in validate_model_files(broken, None))


# ---- the LoRA field -----------------------------------------------------------------------------------------
def test_empty_lora_field_means_no_lora(demo_model):
    from pusa_engine.engine import Engine

    model_dir, _ = demo_model
    assert validate_model_files(model_dir, "") == [] and Engine(model_dir, "", plan="cpu").lora_path is None


@pytest.mark.parametrize("content, words", [
    ({}, "it is empty"),
    ({"a": "b", "c": "d"}, "only 2 str values"),
    ([torch.zeros(2, 2)], "holds a list"),
    (NotWeights(), "damaged or not a checkpoint"),
])
def test_lora_that_is_no_state_dict_is_one_line(demo_model, tmp_path, content, words):
    model_dir, _ = demo_model
    lora = tmp_path / "odd.pt"
    torch.save(content, lora)
    problems = validate_model_files(model_dir, lora)
    assert len(problems) == 1 and str(lora) in problems[0] and words in problems[0] and LORA_WHERE in problems[0]


def test_torch_advice_about_weights_only_never_reaches_the_user(demo_model, tmp_path):
    lora = tmp_path / "pickled.pt"
    torch.save(NotWeights(), lora)
    with pytest.raises(ModelFilesError) as err:
        load_lora_state(lora)
    assert err.value.problems == [f"{lora} is damaged or not a checkpoint; {LORA_WHERE}"]


def test_pickled_object_as_vae_names_where_to_download(broken):
    torch.save(NotWeights(), broken / "Wan2.1_VAE.pth")
    problems = validate_model_files(broken, None)
    assert problems == [f"{broken / 'Wan2.1_VAE.pth'} is damaged or not a checkpoint; "
                        "download it again from Hugging Face Wan-AI/Wan2.1-T2V-14B"]


# ---- the tokenizer ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, content", [
    ("tokenizer.json", b"{ this is not a tokenizer"),
    ("spiece.model", os.urandom(300)),
    ("tokenizer_config.json", b"[1, 2, 3]"),
])
def test_corrupt_tokenizer_file_is_caught_by_validation(broken, name, content):
    (broken / "google" / "umt5-xxl" / name).write_bytes(content)
    problems = validate_model_files(broken, None)
    assert len(problems) == 1 and name in problems[0] and "copy google/umt5-xxl again" in problems[0]


def test_tokenizer_that_parses_but_does_not_load_is_caught_by_validation(broken):
    """The slow T5Tokenizer needs the spiece.model this folder lacks."""
    config = broken / "google" / "umt5-xxl" / "tokenizer_config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "tokenizer_class": "T5Tokenizer"}))
    problems = validate_model_files(broken, None)
    assert len(problems) == 1 and "tokenizer" in problems[0] and "cannot be loaded" in problems[0]


# ---- safetensors headers ------------------------------------------------------------------------------------
def _rewrite_header(path: Path, change) -> None:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header, data = json.loads(raw[8:8 + n]), raw[8 + n:]
    data = change(header, data)
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)


def _first(header: dict) -> dict:
    return header[sorted(k for k in header if k != "__metadata__")[0]]


def _last_by_offset(header: dict) -> dict:
    return max((v for k, v in header.items() if k != "__metadata__"), key=lambda v: v["data_offsets"][0])


def _drop(field):
    return lambda h, d: (_first(h).pop(field), d)[1]


def _short_offsets(h, d):
    _first(h)["data_offsets"][1] -= 4
    return d


def _gap(h, d):
    last = _last_by_offset(h)
    last["data_offsets"] = [o + 4 for o in last["data_offsets"]]
    return d + b"\0" * 4


@pytest.mark.parametrize("change, words", [
    (_drop("dtype"), "lacks dtype, shape or data_offsets"),
    (_drop("shape"), "lacks dtype, shape or data_offsets"),
    (_drop("data_offsets"), "lacks dtype, shape or data_offsets"),
    (_short_offsets, "do not fit its shape"),
    (_gap, "leaves a gap"),
    (lambda h, d: d + b"\0" * 8, "8 bytes after its last tensor"),
])
def test_damaged_safetensors_header_is_one_line(broken, change, words):
    _rewrite_header(broken / SHARD, change)
    problems = validate_model_files(broken, None)
    assert len(problems) == 1 and SHARD in problems[0] and words in problems[0] and "download it again" in problems[0]


# ---- folders and FIFOs where a file is expected -------------------------------------------------------------
def test_lora_path_that_is_a_folder(demo_model, tmp_path):
    model_dir, _ = demo_model
    assert validate_model_files(model_dir, tmp_path) == [
        f"LoRA file {tmp_path} is a folder, not a file: use the file itself, from Hugging Face RaphaelLiu/PusaV1"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_lora_path_that_is_a_fifo_does_not_block(demo_model, tmp_path):
    model_dir, _ = demo_model
    fifo = tmp_path / "lora.pt"
    os.mkfifo(fifo)
    problems = finishes(lambda: validate_model_files(model_dir, fifo))["value"]
    assert len(problems) == 1 and "not a regular file" in problems[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_shard_that_is_not_a_file(broken, kind):
    shard = broken / SHARD
    shard.unlink()
    shard.mkdir() if kind == "folder" else os.mkfifo(shard)
    problems = finishes(lambda: validate_model_files(broken, None))["value"]
    assert len(problems) == 1 and SHARD in problems[0] and ("folder" if kind == "folder" else "regular") in problems[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_image_that_is_a_fifo_does_not_block(tmp_path):
    fifo = tmp_path / "key.png"
    os.mkfifo(fifo)
    assert isinstance(finishes(lambda: read_image(fifo))["error"], InputMediaError)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_clip_that_is_a_fifo_does_not_block(tmp_path):
    fifo = tmp_path / "clip.mp4"
    os.mkfifo(fifo)
    assert "not a regular file" in str(finishes(lambda: check_input_file(fifo, "video"))["error"])
