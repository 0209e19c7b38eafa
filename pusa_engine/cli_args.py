"""The command line's arguments: the parser, and how arguments become a request for a model family.

Flags left out take the family's defaults (Wan2.2: 1280x720 at 24 fps), and the four-step mode's (4 steps,
CFG 1) when a LightX2V LoRA is given; a flag given always wins.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from . import __version__
from .families import FAMILIES, WAN21, ModelFamily
from .lora_specs import FOUR_STEP_ALPHA, FOUR_STEP_CFG, FOUR_STEP_STEPS, four_step_loras
from .request import GenerationRequest, Keyframe, VideoCondition


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        sys.stderr.write(f"pusa-engine: error: {message} (see --help)\n")
        raise SystemExit(2)


class CliError(Exception):
    pass


# Every default not set by the family is the request type's own (one place for the CLI, the API and the app).
_DEFAULT = {f.name: f.default for f in dataclasses.fields(GenerationRequest) if f.default is not dataclasses.MISSING}


def parse_keyframe(text: str) -> Keyframe:
    """FRAME:IMAGE:NOISE; IMAGE may itself contain colons (C:\\...), so split at the first and last."""
    frame, sep, rest = text.partition(":")
    image, sep2, noise = rest.rpartition(":")
    if not sep or not sep2 or not image:
        raise CliError(f"--keyframe {text!r}: expected FRAME:IMAGE:NOISE, e.g. 0:start.png:0.2")
    try:
        return Keyframe(image=image, frame=int(frame), noise=float(noise))
    except ValueError as e:
        raise CliError(f"--keyframe {text!r}: FRAME must be an integer and NOISE a number") from e


def _numbers(text: str, kind, flag: str) -> list:
    try:
        return [kind(x) for x in text.split(",") if x.strip()]
    except ValueError as e:
        raise CliError(f"{flag} {text!r}: expected comma-separated numbers like 0,1,2,3") from e


def optional_path(text: str) -> Path | None:
    """An empty value ("" from a script's empty variable) means "not given", not the current folder."""
    return Path(text) if text.strip() else None


def _add_lora_files(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--lora", type=optional_path, help=f"Wan2.1: the Pusa LoRA file, e.g. pusa_v1.pt{what}")
    p.add_argument("--lora-high", type=optional_path, help="Wan2.2: the high-noise expert's Pusa LoRA "
                   "(high_noise_pusa.safetensors)")
    p.add_argument("--lora-low", type=optional_path, help="Wan2.2: the low-noise expert's Pusa LoRA "
                   "(low_noise_pusa.safetensors)")
    p.add_argument("--lightx2v", type=optional_path, help="Wan2.1: four-step mode with this LightX2V "
                   "step-distillation LoRA (4 steps, CFG 1 unless --steps/--cfg say otherwise)")
    p.add_argument("--lightx2v-high", type=optional_path, help="Wan2.2: four-step mode, the high-noise expert's "
                   "LightX2V LoRA")
    p.add_argument("--lightx2v-low", type=optional_path, help="Wan2.2: four-step mode, the low-noise expert's "
                   "LightX2V LoRA")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="pusa-engine", description="Pusa video generation: Wan2.1-T2V-14B or Wan2.2-T2V-A14B + Pusa")
    p.add_argument("--version", action="version", version=f"pusa-engine {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    g = sub.add_parser("generate", help="generate one video")
    g.add_argument("--model", type=optional_path, help="a Wan2.1-T2V-14B or Wan2.2-T2V-A14B folder (its family is "
                   "read off the folder; default: the built-in demo model)")
    _add_lora_files(g, " (default: the demo model's)")
    g.add_argument("--lora-alpha", type=float, default=None,
                   help=f"the Pusa LoRA's alpha (default {_DEFAULT['lora_alpha']}; Wan2.2: both experts')")
    g.add_argument("--lora-alpha-high", type=float, default=None, help="Wan2.2: the high-noise LoRA's alpha (1.4)")
    g.add_argument("--lora-alpha-low", type=float, default=None, help="Wan2.2: the low-noise LoRA's alpha (1.4)")
    g.add_argument("--lightx2v-alpha", type=float, default=FOUR_STEP_ALPHA, help="the LightX2V LoRA's alpha (1.0)")
    g.add_argument("--boundary", type=float, default=None, help="Wan2.2: the high-noise expert runs while the step's "
                   "base timestep >= 1000 x this (default 0.875)")
    g.add_argument("--experts", choices=["auto", "resident", "swap"], default="auto",
                   help="Wan2.2: keep both experts on the GPU, or swap them through it (auto: by free memory)")
    g.add_argument("--prompt", required=True)
    g.add_argument("--negative-prompt", default=_DEFAULT["negative_prompt"])
    for flag, kind in (("--width", int), ("--height", int), ("--frames", int), ("--steps", int), ("--cfg", float),
                       ("--fps", int)):
        g.add_argument(flag, type=kind, default=None, help="default: the model family's (four-step mode: 4 steps, "
                       "CFG 1)" if flag in ("--steps", "--cfg") else "default: the model family's")
    g.add_argument("--shift", type=float, default=_DEFAULT["shift"])
    g.add_argument("--seed", type=int, default=None, help="default: random (the seed used is recorded)")
    g.add_argument("--fit", choices=["crop", "pad"], default=_DEFAULT["fit"])
    g.add_argument("--keyframe", action="append", default=[], metavar="FRAME:IMAGE:NOISE",
                   help="an image at a pixel frame with its noise multiplier (repeatable)")
    g.add_argument("--cond-video", type=Path, help="a video whose frames condition latent slots")
    g.add_argument("--cond-slots", help="latent slots taken from --cond-video, e.g. 0,1,2,3")
    g.add_argument("--cond-noise", help="noise multiplier per slot, e.g. 0.0,0.3,0.4,0.5")
    g.add_argument("--cond-start-slot", type=int, default=0, help="the slot the clip's in point feeds (default 0)")
    g.add_argument("--cond-in-frame", type=int, default=0, help="the clip's first frame used, its in point (default 0)")
    g.add_argument("--fp8", action="store_true", help="FP8 linear layers: faster on Hopper/Ada GPUs, slightly "
                   "different output (lossy; off by default)")
    g.add_argument("--out", type=Path, required=True, help="FILE.mp4; the JSON sidecar goes beside it")
    g.add_argument("--overwrite", action="store_true", help="replace --out (and its sidecar) if it exists")
    g.add_argument("--trace", type=Path, help="FILE.safetensors with the final latents and the timesteps "
                   "(Wan2.2: and which expert ran each step)")
    g.add_argument("--png-frames", action="store_true", help="also write every frame as PNG")
    g.add_argument("--plan", default="auto", help="device plan: auto, cpu, cuda:0, ...")
    g.add_argument("--quiet", action="store_true")

    d = sub.add_parser("make-demo-model", help="write a tiny random-weight model in the official layout")
    d.add_argument("dir", type=Path)
    d.add_argument("--family", choices=list(FAMILIES), default=WAN21.name,
                   help="wan2.1 (default): Wan2.1-T2V-demo/ + pusa_v1_demo.pt; wan2.2: Wan2.2-T2V-A14B-demo/ + the "
                   "high and low Pusa LoRAs; both with tiny LightX2V LoRAs")

    v = sub.add_parser("validate", help="check a model folder and every LoRA without loading them")
    v.add_argument("--model", type=Path, required=True)
    _add_lora_files(v, " (empty or left out: no LoRA)")
    # listed here for --help; `pusa_engine.cluster.commands` parses their own arguments
    sub.add_parser("serve", help="offer workers with this machine's GPUs to a Ray cluster (serve --help)")
    sub.add_parser("batch", help="run a JSONL file of requests here or on a Ray cluster (batch --help)")
    return p


def family_problems(a: argparse.Namespace, family: ModelFamily) -> list[str]:
    """Flags that belong to the other family, each named with what to use instead."""
    if family.has_experts:
        wrong = [("--lora", "--lora-high and --lora-low"), ("--lightx2v", "--lightx2v-high and --lightx2v-low")]
    else:
        wrong = [("--lora-high", "--lora"), ("--lora-low", "--lora"), ("--lightx2v-high", "--lightx2v"),
                 ("--lightx2v-low", "--lightx2v"), ("--lora-alpha-high", "--lora-alpha"),
                 ("--lora-alpha-low", "--lora-alpha"), ("--boundary", "nothing: it has one DiT")]
    out = []
    for flag, instead in wrong:
        if getattr(a, flag[2:].replace("-", "_"), None) is not None:
            out.append(f"{flag} is for {'Wan2.1' if family.has_experts else 'Wan2.2-T2V-A14B'} folders; this is a "
                       f"{family.title} folder: use {instead}")
    return out


def lightx2v_paths(a: argparse.Namespace, family: ModelFamily) -> dict[str, str]:
    """The four-step mode's LoRA per expert ("" = Wan2.1's one DiT); empty when not asked for."""
    if family.has_experts:
        pairs = {"high": a.lightx2v_high, "low": a.lightx2v_low}
        return {k: str(v) for k, v in pairs.items() if v is not None}
    return {"": str(a.lightx2v)} if a.lightx2v is not None else {}


def request_from_args(a: argparse.Namespace, family: ModelFamily = WAN21) -> GenerationRequest:
    video = None
    if a.cond_video is not None:
        if not a.cond_slots or not a.cond_noise:
            raise CliError("--cond-video needs --cond-slots and --cond-noise")
        video = VideoCondition(str(a.cond_video), _numbers(a.cond_slots, int, "--cond-slots"),
                               _numbers(a.cond_noise, float, "--cond-noise"), start_slot=a.cond_start_slot,
                               in_frame=a.cond_in_frame)
    elif a.cond_slots or a.cond_noise or a.cond_start_slot or a.cond_in_frame:
        raise CliError("--cond-slots, --cond-noise, --cond-start-slot and --cond-in-frame need --cond-video")
    if a.out.is_dir():
        raise CliError(f"--out {a.out} is a folder: give a file name ending in .mp4, e.g. {a.out / 'video.mp4'}")
    if a.out.suffix.lower() != ".mp4":
        raise CliError(f"--out {a.out}: the output must be an .mp4 file")
    d = family.defaults
    loras = four_step_loras(lightx2v_paths(a, family), a.lightx2v_alpha)
    steps, cfg = (FOUR_STEP_STEPS, FOUR_STEP_CFG) if loras else (d.steps, d.cfg)
    alpha = a.lora_alpha if a.lora_alpha is not None else d.lora_alpha

    def given(value, default):
        return default if value is None else value

    return GenerationRequest(
        prompt=a.prompt, negative_prompt=a.negative_prompt, width=given(a.width, d.width),
        height=given(a.height, d.height), frames=given(a.frames, d.frames), steps=given(a.steps, steps),
        cfg=given(a.cfg, cfg), shift=a.shift, seed=a.seed, lora_alpha=given(getattr(a, "lora_alpha_high", None), alpha),
        lora_alpha_low=given(getattr(a, "lora_alpha_low", None), alpha), fps=given(a.fps, d.fps), fit=a.fit,
        keyframes=[parse_keyframe(k) for k in a.keyframe], video=video, save_png_frames=a.png_frames,
        boundary=given(getattr(a, "boundary", None), family.boundary or _DEFAULT["boundary"]), loras=loras,
        fp8=a.fp8)


def join_dash_values(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """`--keyframe -4:a.png:0.2` as `--keyframe=-4:a.png:0.2`: argparse takes a value starting with '-'
    for an option unless it is joined; the request then says what is wrong with frame -4."""
    options: dict[str, bool] = {}  # option string -> takes a value
    for action in _all_actions(parser):
        for name in action.option_strings:
            options[name] = action.nargs != 0
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if (options.get(arg) and i + 1 < len(argv) and argv[i + 1].startswith("-") and argv[i + 1] not in options
                and argv[i + 1].split("=", 1)[0] not in options):
            out.append(f"{arg}={argv[i + 1]}")
            i += 2
            continue
        out.append(arg)
        i += 1
    return out


def _all_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    actions = list(parser._actions)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                actions += _all_actions(sub)
    return actions
