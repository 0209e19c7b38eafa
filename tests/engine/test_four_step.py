"""The four-step mode: the LightX2V LoRA stacked on the Pusa LoRA(s), 4 steps at CFG 1, on both families;
explicit --steps/--cfg win; with CFG 1 the two-device plans split the sequence and equal one device."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from pusa_engine.cli import build_parser, main, request_from_args
from pusa_engine.families import WAN21, WAN22
from pusa_engine.lora_specs import LoraSpec

SMALL = ["--width", "64", "--height", "48", "--frames", "17", "--seed", "3", "--plan", "cpu", "--quiet"]


def test_four_step_mode_on_wan21_from_the_command_line(demo_model, lightx2v21, tmp_path):
    out = tmp_path / "fast.mp4"
    code = main(["generate", "--model", str(demo_model[0]), "--lora", str(demo_model[1]), "--lightx2v",
                 str(lightx2v21), "--prompt", "a fox", *SMALL, "--out", str(out), "--trace", str(tmp_path / "t.st")])
    assert code == 0 and out.stat().st_size > 0
    side = json.loads((tmp_path / "fast.json").read_text())
    assert (side["request"]["steps"], side["request"]["cfg"]) == (4, 1.0)
    assert [(e["role"], e["alpha"], e["file"]) for e in side["lora_stack"]] == [
        ("pusa", 1.4, str(demo_model[1].resolve())), ("lightx2v", 1.0, str(lightx2v21.resolve()))]
    trace = load_file(str(tmp_path / "t.st"))
    assert trace["timesteps"].shape[0] == 4 and "experts" not in trace


def test_four_step_mode_on_wan22_from_the_command_line(demo22, tmp_path):
    out = tmp_path / "fast22.mp4"
    code = main(["generate", "--model", str(demo22.model_dir), "--lora-high", str(demo22.loras["high"]),
                 "--lora-low", str(demo22.loras["low"]), "--lightx2v-high", str(demo22.lightx2v["high"]),
                 "--lightx2v-low", str(demo22.lightx2v["low"]), "--lora-alpha-high", "1.5", "--lightx2v-alpha", "0.8",
                 "--prompt", "a fox", *SMALL, "--out", str(out), "--trace", str(tmp_path / "t.st")])
    assert code == 0 and out.stat().st_size > 0
    side = json.loads((tmp_path / "fast22.json").read_text())
    assert (side["request"]["steps"], side["request"]["cfg"], side["family"]) == (4, 1.0, "wan2.2")
    assert [(e["role"], e["alpha"], e["experts"]) for e in side["lora_stack"]] == [
        ("pusa", 1.5, ["high"]), ("pusa", 1.4, ["low"]), ("lightx2v", 0.8, ["high"]), ("lightx2v", 0.8, ["low"])]
    assert load_file(str(tmp_path / "t.st"))["experts"].tolist() == [0, 0, 1, 1]


def _args(*extra):
    return build_parser().parse_args(["generate", "--prompt", "p", "--out", "o.mp4", *extra])


def test_explicit_steps_and_cfg_win_and_defaults_follow_the_family():
    req = request_from_args(_args("--lightx2v", "l.safetensors"))
    assert (req.steps, req.cfg, req.loras) == (4, 1.0, [LoraSpec("l.safetensors", 1.0, "", "lightx2v")])
    req = request_from_args(_args("--lightx2v", "l.safetensors", "--steps", "6", "--cfg", "2"))
    assert (req.steps, req.cfg) == (6, 2.0)
    plain = request_from_args(_args())
    assert (plain.steps, plain.cfg, plain.width, plain.height, plain.fps, plain.loras) == (10, 3.0, 832, 480, 16, [])
    w22 = request_from_args(_args("--lightx2v-high", "h", "--lightx2v-low", "l", "--lora-alpha", "1.6"), WAN22)
    assert (w22.width, w22.height, w22.fps, w22.steps, w22.cfg) == (1280, 720, 24, 4, 1.0)
    assert (w22.lora_alpha, w22.lora_alpha_low) == (1.6, 1.6) and [s.expert for s in w22.loras] == ["high", "low"]
    assert request_from_args(_args("--lora-alpha-low", "1.2"), WAN22).lora_alpha_low == 1.2
    assert request_from_args(_args(), WAN21).boundary == 0.875


@pytest.mark.parametrize("kind", ["cfg-parallel", "seq-split"])
def test_sequence_split_at_cfg_1_equals_one_device(demo_model, lightx2v21, kind):
    from pusa_engine import plans as P
    from pusa_engine.engine import Engine
    from pusa_engine.request import GenerationRequest

    cpu = torch.device("cpu")
    req = GenerationRequest(prompt="a fox", width=64, height=80, frames=9, steps=4, cfg=1.0, seed=4,
                            loras=[LoraSpec(str(lightx2v21), 1.0, "", "lightx2v")])
    results = {}
    for name, plan in (("one", P.make_plan("cpu", [cpu])), (kind, P.make_plan(kind, [cpu, cpu]))):
        eng = Engine(demo_model[0], demo_model[1], plan="cpu")
        eng.plan = plan
        eng.load()
        results[name] = eng.run(req)[1].latents
        if name == kind:  # CFG 1: the single pass is split over both devices
            from pusa_engine.plans.denoisers import Prompts

            p = Prompts(torch.zeros(1, 2, 64), None)
            assert plan.denoiser(eng.dit, p, 1.0).__qualname__.startswith("sequence_split_denoiser")
        eng.close()
    torch.testing.assert_close(results[kind], results["one"], rtol=1e-5, atol=1e-5)
