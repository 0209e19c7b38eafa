"""Command line for batch work: `python -m pusa_engine generate|make-demo-model|validate ...`.

Wrong arguments or files exit non-zero with one line naming the culprit, never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from . import __version__
from .errors import JobCancelled, PusaError
from .locations import default_demo_dir
from .request import GenerationRequest, Keyframe, VideoCondition


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        sys.stderr.write(f"pusa-engine: error: {message} (see --help)\n")
        raise SystemExit(2)


class CliError(Exception):
    pass




# Every default is the request type's own (one place for the CLI, the API and the app).
_DEFAULT = {f.name: f.default for f in dataclasses.fields(GenerationRequest)}


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


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="pusa-engine", description="Pusa V1 video generation (Wan2.1-T2V-14B + Pusa LoRA)")
    p.add_argument("--version", action="version", version=f"pusa-engine {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    g = sub.add_parser("generate", help="generate one video")
    g.add_argument("--model", type=_optional_path, help="Wan2.1-T2V-14B folder (default: the built-in demo model)")
    g.add_argument("--lora", type=_optional_path, help="Pusa LoRA file, e.g. pusa_v1.pt (default: the demo model's)")
    g.add_argument("--lora-alpha", type=float, default=_DEFAULT["lora_alpha"])
    g.add_argument("--prompt", required=True)
    g.add_argument("--negative-prompt", default=_DEFAULT["negative_prompt"])
    g.add_argument("--width", type=int, default=_DEFAULT["width"])
    g.add_argument("--height", type=int, default=_DEFAULT["height"])
    g.add_argument("--frames", type=int, default=_DEFAULT["frames"])
    g.add_argument("--steps", type=int, default=_DEFAULT["steps"])
    g.add_argument("--cfg", type=float, default=_DEFAULT["cfg"])
    g.add_argument("--shift", type=float, default=_DEFAULT["shift"])
    g.add_argument("--seed", type=int, default=None, help="default: random (the seed used is recorded)")
    g.add_argument("--fps", type=int, default=_DEFAULT["fps"])
    g.add_argument("--fit", choices=["crop", "pad"], default=_DEFAULT["fit"])
    g.add_argument("--keyframe", action="append", default=[], metavar="FRAME:IMAGE:NOISE",
                   help="an image at a pixel frame with its noise multiplier (repeatable)")
    g.add_argument("--cond-video", type=Path, help="a video whose frames condition latent slots")
    g.add_argument("--cond-slots", help="latent slots taken from --cond-video, e.g. 0,1,2,3")
    g.add_argument("--cond-noise", help="noise multiplier per slot, e.g. 0.0,0.3,0.4,0.5")
    g.add_argument("--out", type=Path, required=True, help="FILE.mp4; the JSON sidecar goes beside it")
    g.add_argument("--overwrite", action="store_true", help="replace --out (and its sidecar) if it exists")
    g.add_argument("--trace", type=Path, help="FILE.safetensors with the final latents and the timesteps")
    g.add_argument("--png-frames", action="store_true", help="also write every frame as PNG")
    g.add_argument("--plan", default="auto", help="device plan: auto, cpu, cuda:0, ...")
    g.add_argument("--quiet", action="store_true")

    d = sub.add_parser("make-demo-model", help="write a tiny random-weight model in the official layout")
    d.add_argument("dir", type=Path)

    v = sub.add_parser("validate", help="check a model folder and LoRA without loading them")
    v.add_argument("--model", type=Path, required=True)
    v.add_argument("--lora", type=_optional_path, help="empty or left out: no LoRA")
    return p


def _optional_path(text: str) -> Path | None:
    """An empty value ("" from a script's empty variable) means "not given", not the current folder."""
    return Path(text) if text.strip() else None


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


def request_from_args(a: argparse.Namespace) -> GenerationRequest:
    video = None
    if a.cond_video is not None:
        if not a.cond_slots or not a.cond_noise:
            raise CliError("--cond-video needs --cond-slots and --cond-noise")
        video = VideoCondition(str(a.cond_video), _numbers(a.cond_slots, int, "--cond-slots"),
                               _numbers(a.cond_noise, float, "--cond-noise"))
    elif a.cond_slots or a.cond_noise:
        raise CliError("--cond-slots and --cond-noise need --cond-video")
    if a.out.is_dir():
        raise CliError(f"--out {a.out} is a folder: give a file name ending in .mp4, e.g. {a.out / 'video.mp4'}")
    if a.out.suffix.lower() != ".mp4":
        raise CliError(f"--out {a.out}: the output must be an .mp4 file")
    return GenerationRequest(
        prompt=a.prompt, negative_prompt=a.negative_prompt, width=a.width, height=a.height, frames=a.frames,
        steps=a.steps, cfg=a.cfg, shift=a.shift, seed=a.seed, lora_alpha=a.lora_alpha, fps=a.fps, fit=a.fit,
        keyframes=[parse_keyframe(k) for k in a.keyframe], video=video, save_png_frames=a.png_frames)


def _print_event(event) -> None:
    from .events import PhaseProgress, StepProgress

    if isinstance(event, StepProgress):
        print(f"step {event.step}/{event.total}  {event.seconds_this_step:.2f}s  eta {event.eta_seconds:.0f}s",
              file=sys.stderr)
    elif isinstance(event, PhaseProgress) and event.done == 0:
        eta = f" (about {event.eta_seconds:.0f}s)" if event.eta_seconds is not None else ""
        print(f"{event.phase.value}...{eta}", file=sys.stderr)


def check_output_path(a: argparse.Namespace) -> None:
    """Before any model loads: where the results go, and whether that would replace a file."""
    from .atomic_files import check_outputs, sidecar_path_for

    if (a.out.exists() or a.out.is_symlink()) and not a.overwrite:
        sidecar = sidecar_path_for(a.out).name
        raise CliError(f"--out {a.out} already exists: add --overwrite to replace it (and {sidecar}), "
                       "or choose another name")
    check_outputs(a.out, png_dir=a.out.with_suffix("") if a.png_frames else None, trace=a.trace)


def cmd_generate(a: argparse.Namespace) -> int:
    from .media import check_input_file

    req = request_from_args(a)
    req.validate()
    for kf in req.keyframes:
        check_input_file(kf.image, "image")
    if req.video is not None:
        check_input_file(req.video.video, "video")
    check_output_path(a)
    model, lora = a.model, a.lora
    if model is None:
        from .demo_model import ensure_demo_model

        model, demo_lora = ensure_demo_model(default_demo_dir())
        lora = lora or demo_lora
        if not a.quiet:
            print(f"no --model given: using the built-in demo model in {model} (its videos are noise)",
                  file=sys.stderr)
    from .engine import Engine
    from .loader import check_model_files

    check_model_files(model, lora)  # every problem at once, before any other output
    engine = Engine(model, lora, plan=a.plan)
    engine.load()
    req.validate(engine.size_limit())  # what this machine's memory allows
    if not a.quiet:
        print(f"device plan: {engine.plan_description}", file=sys.stderr)
    for m in req.slot_mapping():
        print(f"conditioning {Path(m.source).name}: slot {m.slot} (pixel frames {m.pixel_frames[0]}-"
              f"{m.pixel_frames[1]}), noise {m.noise}", file=sys.stderr)
    result = engine.generate(req, a.out, on_event=None if a.quiet else _print_event, trace_path=a.trace)
    print(f"wrote {result.video_path} ({result.frames} frames, seed {result.seed}, {result.seconds:.1f}s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(join_dash_values(list(sys.argv[1:] if argv is None else argv), parser))
    try:
        if args.command == "make-demo-model":
            from .demo_model import write_demo_model

            model_dir, lora = write_demo_model(args.dir)
            print(f"wrote {model_dir} and {lora}")
            return 0
        if args.command == "validate":
            from .validation import validate_model_files

            problems = validate_model_files(args.model, args.lora)
            for p in problems:
                print(f"problem: {p}")
            print("OK: the files look complete" if not problems else f"{len(problems)} problem(s) found")
            return 1 if problems else 0
        return cmd_generate(args)
    except (PusaError, CliError, ValueError) as e:
        sys.stderr.write("pusa-engine: error: " + str(e).replace("\n", "; ") + "\n")
        return 1
    except OSError as e:  # a file or folder the checks above could not foresee
        where = f" {e.filename}" if e.filename else ""
        sys.stderr.write(f"pusa-engine: error:{where} {e.strerror or e}: check the path and its permissions\n")
        return 1
    except MemoryError:
        sys.stderr.write("pusa-engine: error: the computer ran out of memory: try fewer frames or a smaller size\n")
        return 1
    except JobCancelled:
        sys.stderr.write("pusa-engine: cancelled\n")
        return 130
    except KeyboardInterrupt:
        sys.stderr.write("pusa-engine: interrupted\n")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
