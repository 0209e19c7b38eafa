"""Command line for batch work: `python -m pusa_engine generate|make-demo-model|validate ...`.

Wrong arguments or files exit non-zero with one line naming the culprit, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .cli_args import (
    CliError,
    build_parser,
    family_problems,
    join_dash_values,
    lightx2v_paths,
    parse_keyframe,
    request_from_args,
)
from .errors import JobCancelled, PusaError, os_error_line
from .families import WAN21, detect_family, family_named
from .locations import default_demo_dir

__all__ = ["CliError", "build_parser", "main", "parse_keyframe", "request_from_args"]


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

    family = detect_family(a.model) if a.model is not None else WAN21
    problems = family_problems(a, family)
    if problems:
        raise CliError(problems[0])
    req = request_from_args(a, family)
    req.validate(experts=family.expert_names if family.has_experts else ("",))
    for kf in req.keyframes:
        check_input_file(kf.image, "image")
    if req.video is not None:
        check_input_file(req.video.video, "video")
    check_output_path(a)
    model, lora, lora_low = a.model, (a.lora_high if family.has_experts else a.lora), a.lora_low
    if model is None:
        from .demo_model import ensure_demo_model

        model, demo_lora = ensure_demo_model(default_demo_dir())
        lora = lora or demo_lora
        if not a.quiet:
            print(f"no --model given: using the built-in demo model in {model} (its videos are noise)",
                  file=sys.stderr)
    from .engine import Engine
    from .validation import validate_model_files

    # every problem at once, the whole LoRA stack included, before any other output
    extras = [(spec.path, spec.expert) for spec in req.loras]
    problems = validate_model_files(model, lora, lora_low, extras)
    if problems:
        raise PusaError(problems)
    engine = Engine(model, lora, plan=a.plan, lora_low=lora_low, experts=a.experts)
    engine.load()
    req.validate(engine.size_limit())  # what this machine's memory allows
    if not a.quiet:
        print(f"model: {family.title}; device plan: {engine.plan_description}"
              + (f"; experts {engine.dits.mode}" if family.has_experts else ""), file=sys.stderr)
        if lightx2v_paths(a, family):
            print(f"four-step mode (LightX2V LoRA merged): {req.steps} steps, CFG {req.cfg:g}", file=sys.stderr)
    for m in req.slot_mapping():
        print(f"conditioning {Path(m.source).name}: slot {m.slot} (pixel frames {m.pixel_frames[0]}-"
              f"{m.pixel_frames[1]}), noise {m.noise}", file=sys.stderr)
    result = engine.generate(req, a.out, on_event=None if a.quiet else _print_event, trace_path=a.trace)
    print(f"wrote {result.video_path} ({result.frames} frames, seed {result.seed}, {result.seconds:.1f}s)")
    return 0


def cmd_validate(a: argparse.Namespace) -> int:
    from .validation import validate_model_files

    family = detect_family(a.model)
    wrong = family_problems(a, family)
    if wrong:
        raise CliError(wrong[0])
    lora = a.lora_high if family.has_experts else a.lora
    extras = [(path, expert) for expert, path in lightx2v_paths(a, family).items()]
    problems = validate_model_files(a.model, lora, a.lora_low, extras)
    for p in problems:
        print(f"problem: {p}")
    print(f"OK: the {family.title} files look complete" if not problems else f"{len(problems)} problem(s) found")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] and argv[0] in ("serve", "batch"):  # the cluster's commands: pusa_engine.cluster.commands
        from .cluster.commands import main as cluster_main

        return cluster_main(argv)
    parser = build_parser()
    args = parser.parse_args(join_dash_values(argv, parser))
    try:
        if args.command == "make-demo-model":
            from .demo_model import write_demo_files

            files = write_demo_files(args.dir, family_named(args.family).name)
            written = [files.model_dir, *files.loras.values(), *files.lightx2v.values()]
            print("wrote " + ", ".join(str(p) for p in written))
            return 0
        if args.command == "validate":
            return cmd_validate(args)
        return cmd_generate(args)
    except (PusaError, CliError, ValueError) as e:
        sys.stderr.write("pusa-engine: error: " + str(e).replace("\n", "; ") + "\n")
        return 1
    except OSError as e:  # a file or folder the checks above could not foresee
        sys.stderr.write(os_error_line(e))
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
