"""The LoRA is W_base + alpha * (B @ A), before and after alpha changes; PEFT and kohya keys agree."""

from __future__ import annotations

import torch

from pusa_engine.loader import load_dit
from pusa_engine.lora import MergedLora, load_lora_state
from pusa_engine.model_files import ModelFolder


def _fresh(demo_model):
    model_dir, lora_path = demo_model
    dit = load_dit(ModelFolder(model_dir), torch.float32, torch.device("cpu"))
    base = {n: p.detach().clone() for n, p in dit.named_parameters()}
    return dit, base, load_lora_state(lora_path), lora_path


def _expected(base_w, state, module, alpha):
    a = state[f"diffusion_model.{module}.lora_A.default.weight"]
    b = state[f"diffusion_model.{module}.lora_B.default.weight"]
    return base_w + alpha * (b @ a)


def test_alpha_changes_in_place_without_accumulating(demo_model):
    dit, base, state, path = _fresh(demo_model)
    lora = MergedLora(dit, state, path)
    module = "blocks.1.cross_attn.v"
    weight = dit.get_submodule(module).weight
    for alpha in (1.4, 0.5, 3.0, 1.4):
        lora.set_alpha(alpha)
        torch.testing.assert_close(weight, _expected(base[f"{module}.weight"], state, module, alpha), rtol=0, atol=1e-6)
    untouched = "blocks.0.norm3.weight"
    assert torch.equal(dict(dit.named_parameters())[untouched], base[untouched])


def test_every_targeted_layer_is_merged(demo_model):
    dit, _, state, path = _fresh(demo_model)
    lora = MergedLora(dit, state, path)
    assert len(lora.layers) == len(state) // 2 == 2 * 10


def test_kohya_keys_merge_like_peft_keys(demo_model):
    dit_a, _, state, path = _fresh(demo_model)
    dit_b, _, _, _ = _fresh(demo_model)
    kohya = {}
    for key, value in state.items():
        module = key.removeprefix("diffusion_model.").split(".lora_")[0]
        part = "lora_down" if ".lora_A." in key else "lora_up"
        kohya[f"lora_unet_{module.replace('.', '_')}.{part}.weight"] = value
        kohya[f"lora_unet_{module.replace('.', '_')}.alpha"] = torch.tensor(float(value.shape[0] if part == "lora_down"
                                                                                   else value.shape[1]))
    MergedLora(dit_a, state, path).set_alpha(2.0)
    MergedLora(dit_b, kohya, path).set_alpha(2.0)
    for (n, a), (_, b) in zip(dit_a.named_parameters(), dit_b.named_parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6, msg=n)


def test_engine_switches_alpha_between_jobs_without_reload(engine, tiny):
    weight = engine.dit.get_submodule("blocks.0.self_attn.q").weight
    engine.run(tiny(lora_alpha=2.0, steps=1))
    at_two = weight.clone()
    engine.run(tiny(lora_alpha=0.5, steps=1))
    engine.run(tiny(lora_alpha=2.0, steps=1))
    assert torch.equal(weight, at_two)
