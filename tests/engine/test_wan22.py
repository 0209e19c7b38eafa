"""Wan2.2-T2V-A14B with two experts: the family read off the folder, diffsynth's own Wan2.2 pipeline as the
reference, the expert trace, every task from files to an MP4, and the experts resident or swapped."""

from __future__ import annotations

import json

import pytest
import torch
from diffsynth_reference import diffsynth_latents  # tests/engine is on the path (no package)

from pusa_engine.families import WAN21, WAN22, detect_family
from pusa_engine.request import GenerationRequest, Keyframe, VideoCondition


def _req(**kw):
    base = dict(prompt="a red cat walks", width=64, height=48, frames=17, steps=3, cfg=3.0, seed=7)
    base.update(kw)
    return GenerationRequest(**base)


def test_family_is_read_off_the_folder(demo22, demo_model, tmp_path):
    assert detect_family(demo22.model_dir) is WAN22
    assert detect_family(demo_model[0]) is WAN21
    assert detect_family(tmp_path / "missing") is WAN21  # its checks then say what is wrong
    (tmp_path / "high_noise_model").mkdir()
    assert detect_family(tmp_path) is WAN21  # one expert folder is not Wan2.2


def test_matches_diffsynth_wan22_pipeline(engine22):
    """No conditioning: our latents equal diffsynth's WanVideoPipeline with dit (high) and dit2 (low) switched
    at the same boundary, on the same merged weights, seed and settings."""
    req = _req(frames=9, steps=10, cfg=3.0, seed=5, lora_alpha=1.0, lora_alpha_low=1.2)
    _, ours, _ = engine22.run(req)
    assert ours.experts.tolist() == [0] * 5 + [1] * 5
    theirs = diffsynth_latents(engine22, req, engine22.dits.models["high"], engine22.dits.models["low"],
                               switch_DiT_boundary=req.boundary)
    torch.testing.assert_close(ours.latents, theirs, rtol=0, atol=1e-5)


def test_expert_trace_switches_at_the_first_step_below_the_boundary(engine22):
    _, r, _ = engine22.run(_req(steps=10))
    assert r.experts.dtype == torch.int32 and r.experts.tolist() == [0] * 5 + [1] * 5
    _, r, _ = engine22.run(_req(steps=10, boundary=0.95))
    assert r.experts.tolist() == [0] * 3 + [1] * 7
    _, r, _ = engine22.run(_req(steps=2))  # t = 1000 then 833.3
    assert r.experts.tolist() == [0, 1]


def test_each_expert_merges_its_own_lora_and_alpha(engine22):
    engine22.run(_req(steps=1, lora_alpha=2.0, lora_alpha_low=0.5))
    assert engine22.dits.stacks["high"].stack == (("pusa", 2.0),)
    assert engine22.dits.stacks["low"].stack == (("pusa", 0.5),)
    assert engine22.dits.stacks["high"].files["pusa"] == engine22.lora_path
    assert engine22.dits.stacks["low"].files["pusa"] == engine22.lora_low


TASKS = {
    "t2v": lambda m: {},
    "i2v": lambda m: {"keyframes": [Keyframe(str(m / "red.png"), 0, 0.2)]},
    "start_end": lambda m: {"keyframes": [Keyframe(str(m / "red.png"), 0, 0.2),
                                          Keyframe(str(m / "green.jpg"), 16, 0.5)]},
    "keyframes": lambda m: {"keyframes": [Keyframe(str(m / "red.png"), 0, 0.0), Keyframe(str(m / "green.jpg"), 8, 0.3),
                                          Keyframe(str(m / "blue.webp"), 16, 0.6)]},
    "extension": lambda m: {"video": VideoCondition(str(m / "clip.mp4"), [0, 1, 2, 3], [0.0, 0.3, 0.4, 0.5])},
    "completion": lambda m: {"keyframes": [Keyframe(str(m / "red.png"), 0, 0.3)],
                             "video": VideoCondition(str(m / "clip.mp4"), [4], [0.3])},
}


@pytest.mark.parametrize("task", list(TASKS))
def test_every_task_from_files_to_an_mp4(engine22, media_dir, tmp_path, task):
    out = tmp_path / f"{task}.mp4"
    result = engine22.generate(_req(**TASKS[task](media_dir)), out, trace_path=tmp_path / "t.safetensors")
    assert out.stat().st_size > 0 and result.frames == 17
    side = json.loads((tmp_path / f"{task}.json").read_text())
    assert side["family"] == "wan2.2"
    assert [(e["role"], e["experts"]) for e in side["lora_stack"]] == [("pusa", ["high"]), ("pusa", ["low"])]
    from safetensors.torch import load_file

    assert load_file(str(tmp_path / "t.safetensors"))["experts"].tolist() == [0, 0, 1]


def test_swapped_experts_give_the_resident_latents(demo22, engine22):
    from pusa_engine.engine import Engine

    swap = Engine(demo22.model_dir, demo22.loras["high"], plan="cpu", lora_low=demo22.loras["low"], experts="swap")
    swap.load()
    assert swap.dits.mode == "swap" and swap.dits.swap.active == "high"  # merged at load, ready for step 0
    for req in (_req(steps=4), _req(steps=4, lora_alpha=2.0), _req(steps=4)):
        _, a, _ = engine22.run(req)
        _, b, _ = swap.run(req)
        assert torch.equal(a.latents, b.latents)
    # one swap at load; the first job swaps once (to low at the boundary), each later job twice (back to high
    # for its first step, to low at the boundary)
    assert len(swap.dits.swap.swap_seconds) == 1 + 1 + 2 * 2
    expert = swap.dits.models["low"]  # the kept weights stay as released: the LoRA is merged into the slot only
    assert expert.blocks[0].self_attn.q.weight.data_ptr() == swap.dits.swap.homes["low"]["blocks.0.self_attn.q.weight"]\
        .data_ptr()


@pytest.mark.parametrize("kind", ["cfg-parallel", "seq-split", "mem-split", "offload"])
def test_two_experts_on_every_plan(demo22, engine22, kind):
    from pusa_engine import plans as P
    from pusa_engine.engine import Engine

    cpu = torch.device("cpu")
    eng = Engine(demo22.model_dir, demo22.loras["high"], plan="cpu", lora_low=demo22.loras["low"])
    eng.plan = P.make_plan(kind, [cpu] * P.PLAN_CLASSES[kind].min_devices)
    eng.load()
    req = _req(steps=3, frames=9)
    _, ref, _ = engine22.run(req)
    _, got, _ = eng.run(req)
    torch.testing.assert_close(got.latents, ref.latents, rtol=1e-4, atol=1e-4)
    if kind in ("cfg-parallel", "seq-split"):
        assert len([v for v in [eng.plan._replicas.get(m) for m in eng.dits.models.values()] if v]) == 2
    eng.close()
