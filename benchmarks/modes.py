"""Benchmarks of the official modes beyond the reference job: the four-step mode (LightX2V) at 480p, and
Wan2.2-A14B's two experts at 720p with both resident or swapped, on one GPU or two.

    python -m benchmarks.bench --four-step [--plan-devices cuda:0,cuda:1]
    python -m benchmarks.bench --wan22 [--experts resident|swap] [--plan-devices cuda:0,cuda:1]

Random full-size weights built on the device (no files: two bf16 experts and the T5 do not fit the disk of
a one-GPU box), LoRAs of the released ranks (Pusa 512, LightX2V 64), through the engine's DiT set (placement,
LoRA stacks, expert swap), sampler and plan. `--tiny --device cpu` runs every path in seconds.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import torch

from .common import env_info, free_memory, timed
from .family_jobs import (
    JobTimes,
    Shared,
    devices_of,
    make_expert,
    plan_for,
    random_lora,
    resident_gib,
    rss_gib,
    run_job,
)

PUSA_RANK, LIGHTX2V_RANK = 512, 64


def _dits(args, family, plan, experts: str = "auto"):
    """The family's experts (random) placed by the plan, with a random Pusa LoRA each merged at 1.4."""
    from pusa_engine.dit_set import DiTSet

    rank = 8 if args.tiny else PUSA_RANK
    paths = {n: Path(f"random-pusa-{n}.safetensors") for n in family.expert_names}
    dits = DiTSet(family, None, plan, paths, experts)
    make = make_expert(args, seed=0)
    built: dict[str, torch.nn.Module] = {}

    def make_and_keep(expert, device, pin):
        built[expert.name] = make(expert, device, pin)
        return built[expert.name]

    device = devices_of(args)[0]
    t, _ = timed(lambda: dits.place(make_and_keep, lora_states=_LazyLoras(built, rank, device)), device)
    return dits, t


class _LazyLoras(dict):
    """Random Pusa LoRA states, made on the first device for each expert once it is built."""

    def __init__(self, built: dict[str, torch.nn.Module], rank: int, device: torch.device):
        super().__init__()
        self.built, self.rank, self.device = built, rank, device

    def get(self, name, default=None):
        if name not in self:
            self[name] = random_lora(self.built[name], self.rank, seed=10 + len(self), device=self.device)
        return dict.get(self, name, default)


def _report(label: str, times: JobTimes, extra: dict) -> dict:
    row = {"label": label, "total_s": round(times.total, 2), **{f"{k}_s": round(v, 2) for k, v in times.phases.items()},
           "median_step_s": round(statistics.median(times.steps), 3) if times.steps else None,
           "steps": [round(s, 2) for s in times.steps], "experts": times.experts,
           "peak_gib": {k: round(v, 1) for k, v in times.peak_gib.items()}, **extra}
    print(json.dumps(row), flush=True)
    return row


def four_step(args) -> None:
    """The four-step mode at 480p: Pusa LoRA + LightX2V LoRA merged, 4 steps, CFG 1 (sequence split on two GPUs)."""
    from pusa_engine.families import WAN21

    devs = devices_of(args)
    plan = plan_for(devs, torch.float32 if args.float32 else torch.bfloat16)
    shared = Shared.build(args, plan)  # first: the LoRA copies are placed in the memory left beside it
    dits, t_load = _dits(args, WAN21, plan)
    light_rank = 4 if args.tiny else LIGHTX2V_RANK
    model = dits.models["dit"]
    light = random_lora(model, light_rank, seed=99, kohya=True)
    stack = dits.stacks["dit"]
    t_add, _ = timed(lambda: stack.add("lightx2v", light, Path("random-lightx2v.safetensors")), devs[0])
    w, h, f = (64, 48, 17) if args.tiny else (832, 480, 81)
    out = {"env": env_info(devs[0]), "plan": plan.describe(), "rows": []}
    alphas = [("pusa", 1.4), ("lightx2v", 1.0)]
    t_merge, _ = timed(lambda: stack.set(alphas), devs[0])
    run_job(dits, plan, shared, w, h, 9 if not args.tiny else f, 1, 1.0)  # warm-up: attention picks, replicas
    for label in ("four-step job", "four-step job again"):
        times, _ = run_job(dits, plan, shared, w, h, f, 4, 1.0)
        out["rows"].append(_report(f"{label}, {w}x{h}x{f}, 4 steps, CFG 1, {len(devs)} device(s)", times, {}))
    t_alpha, _ = timed(lambda: stack.set([("pusa", 1.4), ("lightx2v", 0.8)]), devs[0])
    times, _ = run_job(dits, plan, shared, w, h, f, 4, 1.0)
    out["rows"].append(_report("four-step job after a LightX2V alpha change (1.0 -> 0.8)", times,
                               {"alpha_change_s": round(t_alpha, 3)}))
    out["setup"] = {"build_and_pusa_merge_s": round(t_load, 1), "lightx2v_load_s": round(t_add, 2),
                    "lightx2v_merge_s": round(t_merge, 3), "lora_placement": str(stack.placement),
                    "resident_gib": resident_gib(devs), "rss_gib": rss_gib()}
    print(json.dumps(out["setup"]), flush=True)
    _save(args, out)


def wan22(args) -> None:
    """Wan2.2-A14B at 720p, 81 frames, 10 steps, CFG 3: two experts resident or swapped, one GPU or two."""
    from pusa_engine.families import WAN22

    devs = devices_of(args)
    plan = plan_for(devs, torch.float32 if args.float32 else torch.bfloat16)
    shared = Shared.build(args, plan)
    dits, t_load = _dits(args, WAN22, plan, args.experts)
    w, h, f = (64, 48, 17) if args.tiny else (1280, 720, 81)
    steps, cfg = args.steps, args.cfg
    out = {"env": env_info(devs[0]), "plan": plan.describe(), "experts": dits.mode, "rows": []}
    setup = {"build_place_merge_s": round(t_load, 1), "experts": dits.mode, "resident_gib": resident_gib(devs),
             "rss_gib": rss_gib(),
             "lora_placement": {n: str(s.placement) for n, s in dits.stacks.items()}}
    # warm-up: one step of each expert at a short clip (attention picks, copies on the second GPU)
    run_job(dits, plan, shared, w, h, 9 if not args.tiny else f, 2, cfg)
    swaps_before = len(dits.swap.swap_seconds) if dits.swap else 0
    times, _ = run_job(dits, plan, shared, w, h, f, steps, cfg)
    extra = {}
    if dits.swap is not None:
        extra["swap_s"] = [round(s, 2) for s in dits.swap.swap_seconds[swaps_before:]]
    out["rows"].append(_report(f"Wan2.2 job {w}x{h}x{f}, {steps} steps, CFG {cfg:g}, experts {dits.mode}, "
                               f"{len(devs)} device(s)", times, extra))
    if dits.swap is not None:
        swap_times = []
        for name in ("high", "low", "high", "low"):  # the swap alone, each way (the job ended on "low")
            t, _ = timed(lambda n=name: dits.swap.activate(n), devs[0])
            swap_times.append(round(t, 3))
        setup["swap_alone_s"] = swap_times
    t_alpha, _ = timed(lambda: dits.apply(dits.uses({"high": 1.5, "low": 1.3}, [])), devs[0])
    setup["alpha_change_both_experts_s"] = round(t_alpha, 3)
    out["setup"] = setup
    print(json.dumps(setup), flush=True)
    _save(args, out)
    free_memory()


def _save(args, out: dict) -> None:
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=str))
