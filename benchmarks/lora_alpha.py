"""A LoRA alpha change on the 14B DiT with a rank-512 LoRA (issue 12, target 1: <= 2 s on any plan, exact):
base copies beside the weights on the GPU, in pinned CPU memory, the offload plan's weights in CPU memory,
and two GPUs (the copy on the second GPU re-synced).

    python -m benchmarks.bench --lora-alpha-change [--plan-devices cuda:0,cuda:1]

Exactness: after a history of changes the weights are bit-identical to those written once for the same
alpha (checked on every changed tensor by checksum, and bit by bit on the first and last block).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from pusa_engine.model_files import WAN_14B_CONFIG

from .common import TINY_DIT, env_info, free_memory, random_dit, timed
from .family_jobs import devices_of, random_lora, resident_gib, rss_gib

HISTORY = (1.0, 2.2, 0.5, 1.4)


def _checksums(stack) -> list[int]:
    return [int(t.param.detach().view(torch.int16).to(torch.int64).sum()) if t.param.element_size() == 2
            else int(t.param.detach().double().sum().item() * 1e6) for t in stack.targets.values()]


def _edges(dit) -> list[torch.Tensor]:
    return [p.detach().clone() for b in (dit.blocks[0], dit.blocks[-1]) for p in b.parameters() if p.dim() == 2]


def _case(args, label: str, plan, placement_for) -> dict:
    from pusa_engine.lora import LoraStack

    devs = devices_of(args)
    d0 = devs[0]
    dtype = torch.float32 if args.float32 else torch.bfloat16
    dit = random_dit(TINY_DIT if args.tiny else WAN_14B_CONFIG, d0, dtype)
    state = random_lora(dit, 8 if args.tiny else 512, seed=1)  # made on the GPU, before the plan places the DiT
    plan.prepare_dit(dit)
    stack = LoraStack(dit, placement_for(plan, dit, state))
    row = {"case": label, "placement": str(stack.placement)}
    row["load_factors_s"], _ = timed(lambda: stack.add("pusa", state, Path("random-pusa.safetensors")), d0)
    state.clear()
    row["merge_at_load_s"], _ = timed(lambda: stack.set([("pusa", 1.4)]), d0)
    row["first_job_same_alpha_writes"] = stack.set([("pusa", 1.4)])
    once, edges = _checksums(stack), _edges(dit)
    replicas = None
    if hasattr(plan, "replicas"):
        timed(lambda: plan.replicas(dit, stack.version), devs[-1])  # the copy on the second GPU, made once
        replicas = plan

    def change(alpha: float) -> None:
        stack.set([("pusa", alpha)])
        if replicas is not None:  # the plan re-syncs its copy before the next step
            replicas.replicas(dit, stack.version)

    row["changes_s"] = {}
    for alpha in HISTORY:
        t, _ = timed(lambda a=alpha: change(a), d0)
        row["changes_s"][str(alpha)] = round(t, 3)
    row["max_change_s"] = max(row["changes_s"].values())
    row["exact_after_history"] = _checksums(stack) == once and all(
        torch.equal(a, b) for a, b in zip(edges, _edges(dit), strict=True))
    row["base_copy_gib"] = round(stack.base_bytes() / 2**30, 1)
    row["factor_gib"] = round(stack.factor_bytes() / 2**30, 2)
    row["resident_gib"], row["rss_gib"] = resident_gib(devs), rss_gib()
    print(json.dumps(row), flush=True)
    plan.release()
    stack.targets.clear()
    edges.clear()
    free_memory()
    return row


def alpha_change(args) -> None:
    from pusa_engine.lora import LoraPlacement
    from pusa_engine.plans import make_plan
    from pusa_engine.plans.placement import lora_placement

    from .family_jobs import plan_for

    devs = devices_of(args)
    dtype = torch.float32 if args.float32 else torch.bfloat16
    one = [devs[0]]

    def auto(plan, dit, state):
        from pusa_engine.dit_set import _lora_bytes

        return lora_placement(plan, dit, *_lora_bytes(dit, state))

    gpu = devs[0].type == "cuda"
    cases = [("one device, placement as the plan picks it", plan_for(one, dtype), auto),
             ("one device, base copies in pinned CPU memory", plan_for(one, dtype),
              lambda plan, dit, state: LoraPlacement("pinned", "device"))]
    if gpu:
        cases.append(("offload plan: weights in pinned CPU memory, merged on the GPU",
                      make_plan("offload", one, dtype), auto))
    if len(devs) > 1:
        cases.append((f"{len(devs)} devices, CFG-parallel: merged on the first, copied to the second",
                      plan_for(devs, dtype), auto))
    out = {"env": env_info(devs[0]), "rows": [_case(args, label, plan, pick) for label, plan, pick in cases]}
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=str))
