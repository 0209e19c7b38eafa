"""One writer makes the official folder layout at any size; the loader reads it back exactly."""

from __future__ import annotations

import json

import torch

from pusa_engine.loader import check_model_files, load_dit
from pusa_engine.model_files import DIT_INDEX_FILE, DiTConfig, ModelFolder
from pusa_engine.networks import T5Dims, VAEDims, build_dit, build_text_encoder, build_vae_network
from pusa_engine.official_layout import write_config, write_dit_shards, write_model_folder

CFG = DiTConfig(dim=96, ffn_dim=160, freq_dim=256, in_dim=16, out_dim=16, num_heads=3, num_layers=3, eps=1e-6,
                text_dim=24)


def test_a_folder_of_any_size_loads_back(tmp_path):
    torch.manual_seed(1)
    dit = build_dit(CFG, device="cpu")
    t5 = build_text_encoder(T5Dims(vocab=200, dim=24, dim_attn=24, dim_ffn=48, num_heads=2, num_layers=1,
                                   num_buckets=32), device="cpu")
    vae = build_vae_network(VAEDims(dim=8, num_res_blocks=1), device="cpu")
    folder = write_model_folder(tmp_path / "m", CFG, dit.state_dict(), t5.state_dict(), vae.state_dict(),
                                vocab_size=200, dit_shards=3)
    check_model_files(folder, None)
    index = json.loads((folder / DIT_INDEX_FILE).read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert shards == [f"diffusion_pytorch_model-0000{i}-of-00003.safetensors" for i in (1, 2, 3)]
    loaded = load_dit(ModelFolder(folder), torch.float32, torch.device("cpu"))
    for (name, a), (_, b) in zip(dit.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


def test_shards_are_streamed_one_at_a_time_and_balanced(tmp_path):
    shapes = {k: tuple(v.shape) for k, v in build_dit(CFG, "meta").state_dict().items()}
    made = []

    def tensor(name):
        made.append(name)
        return torch.zeros(shapes[name], dtype=torch.float32)

    write_config(tmp_path, CFG)
    total = write_dit_shards(tmp_path, shapes, tensor, 4, torch.bfloat16)
    assert sorted(made) == sorted(shapes)
    assert total == 2 * sum(torch.Size(s).numel() for s in shapes.values())
    sizes = [p.stat().st_size for p in sorted(tmp_path.glob("*.safetensors"))]
    assert len(sizes) == 4 and max(sizes) < 2.5 * total / 4
    assert ModelFolder(tmp_path).dit_config(text_dim=CFG.text_dim) == CFG
