"""The LoRAs a request stacks after the Pusa LoRA(s), and the four-step mode's settings (spec section 7b).

Pure Python (the desktop builds requests with it). The Pusa LoRA of each expert belongs to the loaded model
(the engine's files); a request names further LoRAs, such as LightX2V's step-distillation LoRA, each a file
with an alpha and the expert it merges into. The engine merges W_base + sum_i alpha_i * s_i * delta_i over
the whole stack, Pusa first, then these in order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

LORA_ALPHA_RANGE = (0.1, 5.0)
EXPERT_NAMES = ("", "high", "low")  # "" = every expert (Wan2.1's one DiT)

# Four-step mode: the LightX2V LoRA at alpha 1.0, 4 steps, CFG 1, the same shift-5 schedule.
FOUR_STEP_STEPS = 4
FOUR_STEP_CFG = 1.0
FOUR_STEP_ALPHA = 1.0
LIGHTX2V = "lightx2v"
DEMO_LIGHTX2V_FILE = "lightx2v_demo.safetensors"  # the Wan2.1 demo model's LightX2V LoRA, beside its folder


@dataclass
class LoraSpec:
    """One LoRA of a request's stack: its file, its alpha, the expert it merges into and what it is for."""

    path: str
    alpha: float = 1.0
    expert: str = ""  # "" every expert; "high" / "low" one of Wan2.2's experts
    role: str = ""  # e.g. "lightx2v", recorded in the sidecar

    @classmethod
    def of(cls, value: LoraSpec | dict[str, Any]) -> LoraSpec:
        if isinstance(value, LoraSpec):
            return value
        if isinstance(value, dict):
            known = {k: v for k, v in value.items() if k in cls.__dataclass_fields__}
            return cls(**known)
        raise TypeError(f"a LoRA of the stack must be a LoraSpec or a dict, not {type(value).__name__}")


def four_step_loras(paths: dict[str, str], alpha: float = FOUR_STEP_ALPHA) -> list[LoraSpec]:
    """LightX2V's LoRA per expert ({"": file} for Wan2.1, {"high": ..., "low": ...} for Wan2.2)."""
    return [LoraSpec(str(p), alpha, expert, LIGHTX2V) for expert, p in paths.items() if p]


def lora_spec_problems(specs: list[LoraSpec], experts: tuple[str, ...] | None = None) -> list[str]:
    """Every problem with the stack's extra LoRAs; `experts` (the model's expert names) when known."""
    problems = []
    for spec in specs:
        name = spec.path or "(no file)"
        if not isinstance(spec.path, str) or not spec.path.strip():
            problems.append("a LoRA of the stack has no file: give its path or remove it")
        alpha = spec.alpha
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not math.isfinite(alpha):
            problems.append(f"LoRA {name}: alpha must be a finite number (got {alpha!r})")
        elif not LORA_ALPHA_RANGE[0] <= alpha <= LORA_ALPHA_RANGE[1]:
            problems.append(f"LoRA {name}: alpha must be between {LORA_ALPHA_RANGE[0]} and {LORA_ALPHA_RANGE[1]} "
                            f"(got {alpha})")
        if spec.expert not in EXPERT_NAMES:
            problems.append(f"LoRA {name}: the expert must be 'high', 'low' or empty (every expert), "
                            f"not {spec.expert!r}")
        elif experts is not None and spec.expert and spec.expert not in experts:
            problems.append(f"LoRA {name} is for the {spec.expert}-noise expert, but this model has one DiT: "
                            "give it without an expert")
    return problems
