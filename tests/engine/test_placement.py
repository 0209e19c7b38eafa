"""Where a plan puts the experts and the LoRA copies: rules over free bytes (so no GPU is needed to test
them), per-model state for two experts at once, and the merge device of weights kept in CPU memory."""

from __future__ import annotations

import gc
import weakref

import torch

from pusa_engine import plans as P
from pusa_engine.families import WAN21, WAN22
from pusa_engine.plans.placement import expert_mode, expert_mode_for, lora_placement, lora_places_for
from pusa_engine.plans.state import ModelStates

GB = 10**9
EXPERT = WAN22.dit_bytes  # 28.6 GB in bf16


def test_both_experts_resident_when_they_fit_else_swapped():
    work = WAN22.work_bytes  # a 720p job
    assert expert_mode_for(141 * GB, 2, EXPERT, work) == "resident"  # an H200
    assert expert_mode_for(80 * GB, 2, EXPERT, work) == "swap"  # an H100: one expert and a job's work
    assert expert_mode_for(20 * GB, 1, EXPERT) == "resident"  # one DiT: nothing to swap
    assert expert_mode_for(None, 2, EXPERT) == "resident"  # not on a GPU


def test_expert_mode_on_cpu_plans_and_by_request():
    cpu = P.make_plan("cpu", [torch.device("cpu")])
    assert expert_mode(cpu, WAN22) == "resident"
    assert expert_mode(cpu, WAN22, "swap") == "swap"
    assert expert_mode(cpu, WAN21, "swap") == "resident"  # one DiT is never swapped


def test_lora_copies_beside_the_weights_when_there_is_room():
    base, factors = 27 * GB, 5 * GB
    assert lora_places_for(100 * GB, base, factors) == ("device", "device")
    assert lora_places_for(10 * GB, base, factors) == ("pinned", "device")
    assert lora_places_for(1 * GB, base, factors) == ("pinned", "pinned")
    assert lora_places_for(None, base, factors) == ("device", "device")


def test_cpu_weights_on_a_cpu_plan_keep_copies_beside_them(demo_model):
    from pusa_engine.loader import load_dit
    from pusa_engine.model_files import ModelFolder

    dit = load_dit(ModelFolder(demo_model[0]), torch.float32, torch.device("cpu"))
    placement = lora_placement(P.make_plan("cpu", [torch.device("cpu")]), dit, 10**6, 10**5)
    assert (placement.base, placement.factors, placement.merge_device) == ("device", "device", None)


def test_model_states_hold_two_models_each_dropped_with_its_own():
    class M:
        pass

    states: ModelStates[str] = ModelStates(limit=2)
    a, b, c = M(), M(), M()
    states.set(a, "a")
    states.set(b, "b")
    assert (states.get(a), states.get(b), states.value) == ("a", "b", "b")
    ref = weakref.ref(b)
    del b
    gc.collect()
    assert ref() is None and states.value == "a"
    states.set(c, "c")
    states.set(M(), "d")  # a third model drops the oldest
    assert states.get(a) is None and states.get(c) == "c"
    states.clear()
    assert states.value is None


def test_pinned_arena_gives_tensors_of_the_asked_shape_and_values():
    from pusa_engine.pinned import PinnedArena

    arena = PinnedArena(chunk_bytes=4096)
    a = arena.copy(torch.arange(12, dtype=torch.float32).view(3, 4))
    b = arena.copy(torch.ones(5, dtype=torch.bfloat16))
    assert a.shape == (3, 4) and torch.equal(a, torch.arange(12, dtype=torch.float32).view(3, 4))
    assert b.dtype == torch.bfloat16 and torch.equal(b, torch.ones(5, dtype=torch.bfloat16))
    if torch.cuda.is_available():  # packed into one page-locked chunk, not one rounded allocation each
        assert a.is_pinned() and b.is_pinned() and arena.reserved_bytes == 4096
        assert a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()
