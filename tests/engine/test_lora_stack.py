"""The LoRA stack: W = W_base + sum_i alpha_i * s_i * delta_i to the last bit, whatever the history of alpha
changes; kohya alpha scaling; full deltas; where base copies live; a LoRA that does not fit is one line."""

from __future__ import annotations

import itertools

import pytest
import torch
from safetensors.torch import save_file

from pusa_engine.errors import ModelFilesError
from pusa_engine.loader import load_dit
from pusa_engine.lora import LoraPlacement, LoraStack, load_lora_state
from pusa_engine.model_files import ModelFolder
from pusa_engine.validation import validate_model_files

MODULE = "blocks.1.cross_attn.v"


def _dit(demo_model, dtype=torch.float32):
    return load_dit(ModelFolder(demo_model[0]), dtype, torch.device("cpu"))


def _factors(state, module):
    """(down, up, s) of one module in a PEFT or kohya file."""
    for key in state:
        flat = key.replace("diffusion_model.", "").replace("lora_unet_", "")
        if flat.startswith((module + ".", module.replace(".", "_") + ".")) and ("lora_A" in key or "lora_down" in key):
            up_key = key.replace("lora_A", "lora_B").replace("lora_down", "lora_up")
            alpha_key = key.replace(".lora_down.weight", ".alpha")
            rank = state[key].shape[0]
            s = float(state[alpha_key]) / rank if alpha_key in state and alpha_key != key else 1.0
            return state[key], state[up_key], s
    raise KeyError(module)


def _formula(base, terms):
    """The spec's formula in float32, in the stack's order, cast once."""
    w = base.float().clone()
    for (down, up, s), alpha in terms:
        w.add_(up.to(base.dtype).float() @ down.to(base.dtype).float(), alpha=alpha * s)
    return w.to(base.dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_two_loras_equal_the_formula_after_any_history(demo_model, lightx2v21, dtype):
    dit = _dit(demo_model, dtype)
    base = dit.get_submodule(MODULE).weight.detach().clone()
    pusa, light = load_lora_state(demo_model[1]), load_lora_state(lightx2v21)
    stack = LoraStack(dit)
    stack.add("pusa", pusa, demo_model[1])
    stack.add("light", light, lightx2v21)
    fp, fl = _factors(pusa, MODULE), _factors(light, MODULE)
    weight = dit.get_submodule(MODULE).weight
    seen = {}
    for a, b in [(1.4, 1.0), (0.5, 0.0), (3.0, 2.5), (1.4, 0.0), (1.4, 1.0), (0.0, 1.0), (1.4, 1.0)]:
        stack.set([("pusa", a), ("light", b)])
        expected = _formula(base, [(fp, a), (fl, b)] if b else [(fp, a)])
        if a == 0:
            expected = _formula(base, [(fl, b)])
        assert torch.equal(weight, expected), (a, b)
        if (a, b) in seen:  # the same stack gives the same bits, whatever happened in between
            assert torch.equal(weight, seen[(a, b)])
        seen[(a, b)] = weight.detach().clone()
    stack.set([])
    assert torch.equal(weight, base)  # every term gone: exactly the base weight again


def test_kohya_alpha_scales_by_alpha_over_rank(demo_model, tmp_path):
    """The Pusa factors as kohya keys with alpha = rank / 2: s = 0.5, so alpha 2 merges exactly like PEFT's 1."""
    peft = load_lora_state(demo_model[1])
    kohya = {}
    for key, value in peft.items():
        flat = "lora_unet_" + key.removeprefix("diffusion_model.").split(".lora_")[0].replace(".", "_")
        if ".lora_A." in key:
            kohya[f"{flat}.lora_down.weight"] = value.contiguous()
            kohya[f"{flat}.alpha"] = torch.tensor(value.shape[0] / 2.0)
        else:
            kohya[f"{flat}.lora_up.weight"] = value.contiguous()
    path = tmp_path / "kohya.safetensors"
    save_file(kohya, str(path))
    merged = {}
    for name, state, file, alpha in (("peft", peft, demo_model[1], 1.0), ("kohya", load_lora_state(path), path, 2.0),
                                     ("half", load_lora_state(path), path, 1.0)):
        dit = _dit(demo_model)
        base = dit.get_submodule(MODULE).weight.detach().clone()
        stack = LoraStack(dit)
        stack.add(name, state, file)
        stack.set([(name, alpha)])
        merged[name] = dit.get_submodule(MODULE).weight.detach() - base
    assert torch.equal(merged["kohya"], merged["peft"]) and merged["peft"].abs().max() > 0
    torch.testing.assert_close(2 * merged["half"], merged["peft"], rtol=0, atol=1e-6)


def test_full_weight_and_bias_deltas(demo_model, tmp_path):
    dit = _dit(demo_model)
    lin = dit.get_submodule(MODULE)
    w0, b0 = lin.weight.detach().clone(), lin.bias.detach().clone()
    diff, diff_b = torch.randn_like(w0), torch.randn_like(b0)
    save_file({f"diffusion_model.{MODULE}.diff": diff, f"diffusion_model.{MODULE}.diff_b": diff_b},
              str(tmp_path / "d.safetensors"))
    stack = LoraStack(dit)
    stack.add("d", load_lora_state(tmp_path / "d.safetensors"), tmp_path / "d.safetensors")
    stack.set([("d", 0.5)])
    assert torch.equal(lin.weight, w0.clone().add_(diff, alpha=0.5))
    assert torch.equal(lin.bias, b0.clone().add_(diff_b, alpha=0.5))


def test_only_changed_weights_are_written(demo_model, lightx2v21):
    dit = _dit(demo_model)
    stack = LoraStack(dit)
    stack.add("pusa", load_lora_state(demo_model[1]), demo_model[1])
    assert stack.set([("pusa", 1.4)]) == 20 and stack.version == 1
    assert stack.set([("pusa", 1.4)]) == 0 and stack.version == 1  # nothing changed: nothing written
    stack.add("light", load_lora_state(lightx2v21), lightx2v21)
    assert stack.set([("pusa", 1.4), ("light", 0.0)]) == 0  # alpha 0 adds no term
    assert stack.set([("pusa", 1.4), ("light", 1.0)]) == 20 and stack.version == 2


def test_where_the_copies_live_does_not_change_the_bits(demo_model, lightx2v21):
    results = []
    for placement in (LoraPlacement("device", "device"), LoraPlacement("pinned", "pinned"),
                      LoraPlacement("cpu", "merge", torch.device("cpu"))):
        dit = _dit(demo_model, torch.bfloat16)
        stack = LoraStack(dit, placement)
        stack.add("pusa", load_lora_state(demo_model[1]), demo_model[1])
        stack.add("light", load_lora_state(lightx2v21), lightx2v21)
        stack.set([("pusa", 2.0), ("light", 1.0)])
        stack.set([("pusa", 1.4), ("light", 1.0)])
        results.append(torch.cat([p.flatten().float() for p in dit.parameters()]))
    for a, b in itertools.pairwise(results):
        assert torch.equal(a, b)


def test_a_lora_that_does_not_fit_is_one_line_naming_it(demo_model, lightx2v21, tmp_path):
    bad = tmp_path / "other_model.safetensors"
    save_file({"diffusion_model.blocks.0.self_attn.q.lora_down.weight": torch.zeros(4, 96),
               "diffusion_model.blocks.0.self_attn.q.lora_up.weight": torch.zeros(64, 4),
               "diffusion_model.blocks.0.ffn.0.lora_down.weight": torch.zeros(4, 96),
               "diffusion_model.blocks.0.ffn.0.lora_up.weight": torch.zeros(128, 4)}, str(bad))
    dit = _dit(demo_model)
    stack = LoraStack(dit)
    stack.add("pusa", load_lora_state(demo_model[1]), demo_model[1])
    with pytest.raises(ModelFilesError) as err:
        stack.add("bad", load_lora_state(bad), bad)
    assert len(err.value.problems) == 1 and str(bad) in err.value.problems[0]
    assert "2 layers have shapes that do not fit" in err.value.problems[0]
    problems = validate_model_files(demo_model[0], demo_model[1], None, [(lightx2v21, ""), (bad, "")])
    assert len(problems) == 1 and str(bad) in problems[0] and str(lightx2v21) not in problems[0]


def test_engine_pays_no_merge_for_the_default_alpha(demo_model, tiny):
    """Loading merges the Pusa LoRA at the default alpha; a first job at that alpha writes no weight."""
    from pusa_engine.engine import Engine

    eng = Engine(demo_model[0], demo_model[1], plan="cpu")
    eng.load()
    stack = eng.dits.stacks["dit"]
    assert stack.stack == (("pusa", 1.4),) and stack.writes == 20
    eng.run(tiny(steps=1))
    assert stack.writes == 20
    eng.run(tiny(steps=1, lora_alpha=2.0))
    assert stack.writes == 40
