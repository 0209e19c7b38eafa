"""Loading the official layout, and every bad-input case the validator reports (all at once)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch
from diffsynth.configs.model_configs import MODEL_CONFIGS
from diffsynth.core.loader.file import convert_keys_dict_to_single_str

from pusa_engine.errors import ModelFilesError
from pusa_engine.loader import load_dit
from pusa_engine.model_files import WAN_14B_CONFIG, ModelFolder
from pusa_engine.networks import build_dit, expected_shapes
from pusa_engine.validation import validate_model_files


def registered_hash(model_name: str) -> set[str]:
    return {c["model_hash"] for c in MODEL_CONFIGS if c.get("model_name") == model_name}


def test_generated_14b_layout_hashes_to_diffsynths_registered_wan_dit():
    shapes = expected_shapes(build_dit(WAN_14B_CONFIG))
    digest = hashlib.md5(convert_keys_dict_to_single_str({k: list(v) for k, v in shapes.items()}).encode()).hexdigest()
    assert digest == "aafcfd9672c3a2456dc46e1cb6e52c70"
    assert digest in registered_hash("wan_video_dit")
    assert sum(torch.Size(s).numel() for s in shapes.values()) == WAN_14B_CONFIG.parameter_count()


def test_demo_model_validates_and_loads(demo_model):
    model_dir, lora = demo_model
    assert validate_model_files(model_dir, lora) == []
    assert (model_dir / "diffusion_pytorch_model-00001-of-00002.safetensors").exists()
    dit = load_dit(ModelFolder(model_dir), torch.bfloat16, torch.device("cpu"))
    assert all(p.dtype == torch.bfloat16 and not p.is_meta for p in dit.parameters())


@pytest.fixture
def broken(demo_model, tmp_path) -> Path:
    """A writable copy of the demo model to damage."""
    src, lora = demo_model
    dst = tmp_path / "model"
    shutil.copytree(src, dst)
    shutil.copy(lora, tmp_path / "lora.pt")
    return dst


def test_missing_shard_and_missing_tokenizer_are_both_reported(broken):
    (broken / "diffusion_pytorch_model-00002-of-00002.safetensors").unlink()
    shutil.rmtree(broken / "google")
    problems = validate_model_files(broken, None)
    assert any("00002-of-00002" in p and "missing" in p for p in problems)
    assert any("tokenizer" in p for p in problems)


def test_truncated_shard_is_named(broken):
    shard = broken / "diffusion_pytorch_model-00001-of-00002.safetensors"
    shard.write_bytes(shard.read_bytes()[:-1000])
    problems = validate_model_files(broken, None)
    assert any(str(shard) in p and "truncated" in p for p in problems)


def test_wrong_shape_for_config_is_reported(broken):
    cfg = json.loads((broken / "config.json").read_text())
    cfg["ffn_dim"] = 96
    (broken / "config.json").write_text(json.dumps(cfg))
    problems = validate_model_files(broken, None)
    assert any("ffn.0.weight" in p and "expected [96, 64]" in p for p in problems)


def test_corrupt_vae_and_t5_are_reported_together(broken):
    (broken / "Wan2.1_VAE.pth").write_bytes(b"garbage" * 100)
    (broken / "models_t5_umt5-xxl-enc-bf16.pth").unlink()
    problems = validate_model_files(broken, None)
    assert any("Wan2.1_VAE.pth" in p for p in problems)
    assert any("models_t5_umt5-xxl-enc-bf16.pth is missing" in p for p in problems)


def test_lora_keys_that_match_nothing_are_listed(broken, tmp_path):
    state = torch.load(tmp_path / "lora.pt")
    state["diffusion_model.blocks.99.self_attn.q.lora_A.default.weight"] = torch.zeros(8, 64)
    state["diffusion_model.blocks.99.self_attn.q.lora_B.default.weight"] = torch.zeros(64, 8)
    torch.save(state, tmp_path / "bad_lora.pt")
    problems = validate_model_files(broken, tmp_path / "bad_lora.pt")
    assert any("match no layer" in p and "blocks.99.self_attn.q" in p for p in problems)


def test_missing_folder_and_engine_load_raise_clear_errors(tmp_path):
    from pusa_engine.engine import Engine

    assert "does not exist" in validate_model_files(tmp_path / "nope", None)[0]
    with pytest.raises(ModelFilesError) as err:
        Engine(tmp_path, None, plan="cpu").load()
    assert "config.json is missing" in str(err.value)
