"""The command line on both families: demo models, validation of the whole LoRA stack, and one line for a
flag of the other family or a LoRA that does not fit."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from pusa_engine.cli import main
from pusa_engine.validation import validate_model_files


def test_make_demo_model_for_each_family(tmp_path, capsys):
    assert main(["make-demo-model", str(tmp_path / "a"), "--family", "wan2.2"]) == 0
    root = tmp_path / "a"
    model = root / "Wan2.2-T2V-A14B-demo"
    for sub in ("high_noise_model", "low_noise_model"):
        found = {p.name for p in (model / sub).iterdir()}
        assert {"config.json", "diffusion_pytorch_model.safetensors.index.json"} <= found
    assert {"models_t5_umt5-xxl-enc-bf16.pth", "Wan2.1_VAE.pth", "google"} <= {p.name for p in model.iterdir()}
    names = ("high_noise_pusa_demo.safetensors", "low_noise_pusa_demo.safetensors", "lightx2v_high_demo.safetensors",
             "lightx2v_low_demo.safetensors")
    assert all((root / n).is_file() for n in names)
    capsys.readouterr()
    assert main(["validate", "--model", str(model), "--lora-high", str(root / names[0]), "--lora-low",
                 str(root / names[1]), "--lightx2v-high", str(root / names[2]), "--lightx2v-low",
                 str(root / names[3])]) == 0
    assert "OK: the Wan2.2-T2V-A14B files look complete" in capsys.readouterr().out
    assert main(["make-demo-model", str(tmp_path / "b")]) == 0
    assert (tmp_path / "b" / "lightx2v_demo.safetensors").is_file() and (tmp_path / "b" / "pusa_v1_demo.pt").is_file()


@pytest.mark.parametrize("argv, words", [
    (["--lora", "x.pt"], "--lora is for Wan2.1 folders; this is a Wan2.2-T2V-A14B folder: use --lora-high and "
                         "--lora-low"),
    (["--lightx2v", "x.st"], "use --lightx2v-high and --lightx2v-low"),
])
def test_wan21_flags_on_a_wan22_folder_are_one_line(demo22, tmp_path, capsys, argv, words):
    code = main(["generate", "--model", str(demo22.model_dir), "--prompt", "x", "--out", str(tmp_path / "o.mp4"),
                 *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and words in err[0]


@pytest.mark.parametrize("flag", ["--lora-high", "--lora-low", "--lightx2v-high", "--lightx2v-low"])
def test_wan22_flags_on_a_wan21_folder_are_one_line(demo_model, tmp_path, capsys, flag):
    code = main(["generate", "--model", str(demo_model[0]), "--prompt", "x", "--out", str(tmp_path / "o.mp4"),
                 flag, "x.safetensors"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and f"{flag} is for Wan2.2-T2V-A14B folders" in err[0]
    assert main(["validate", "--model", str(demo_model[0]), flag, "x"]) == 1


def test_a_lightx2v_lora_that_does_not_fit_is_one_line_naming_it(demo22, tmp_path, capsys):
    bad = tmp_path / "lightx2v_for_another_model.safetensors"
    save_file({"diffusion_model.blocks.0.self_attn.q.lora_down.weight": torch.zeros(4, 96),
               "diffusion_model.blocks.0.self_attn.q.lora_up.weight": torch.zeros(64, 4)}, str(bad))
    code = main(["generate", "--model", str(demo22.model_dir), "--lora-high", str(demo22.loras["high"]),
                 "--lora-low", str(demo22.loras["low"]), "--lightx2v-high", str(demo22.lightx2v["high"]),
                 "--lightx2v-low", str(bad), "--prompt", "x", "--width", "64", "--height", "48", "--frames", "9",
                 "--plan", "cpu", "--out", str(tmp_path / "o.mp4")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and str(bad) in err[0] and "the low-noise expert of Wan2.2-T2V-A14B" in err[0]
    assert "Traceback" not in "".join(err)
    problems = validate_model_files(demo22.model_dir, demo22.loras["high"], demo22.loras["low"],
                                    [(demo22.lightx2v["high"], "high"), (bad, "low")])
    assert len(problems) == 1 and str(bad) in problems[0]


def test_a_low_noise_lora_on_a_wan21_folder(demo_model):
    problems = validate_model_files(demo_model[0], demo_model[1], demo_model[1])
    assert len(problems) == 1 and "low-noise LoRA" in problems[0]


def test_a_missing_expert_folder_is_named(demo22, tmp_path):
    import shutil

    copy = tmp_path / "w22"
    shutil.copytree(demo22.model_dir, copy)
    (copy / "low_noise_model" / "config.json").unlink()
    problems = validate_model_files(copy, None)
    assert any("low_noise_model/config.json is missing" in p for p in problems)
