"""torch.compile of the block phases: off on the CPU by default, one compilation at a time when two threads
(the two-GPU plans, here with two CPU "devices") run compiled phases, sizes remembered per machine, and the
"optimizing for this size" phase of the first compiled job at a size."""

from __future__ import annotations

import threading
import time

import pytest
import torch

from pusa_engine import compiling as C
from pusa_engine import dit as D
from pusa_engine import plans as P
from pusa_engine.events import Phase, PhaseProgress, StepProgress
from pusa_engine.loader import load_dit
from pusa_engine.model_files import ModelFolder

CPU = torch.device("cpu")


class _Slow(torch.nn.Module):
    def forward(self, x):
        time.sleep(0.3)  # the tracing flag stays up meanwhile
        return x + 1


@torch._dynamo.register_backend(name="pusa_test_fx_tracing")
def _fx_tracing_backend(gm, example_inputs):
    """A backend that FX-traces while it compiles, as inductor does on its first use: the process-wide flag
    that made a second thread's compiled call fail ("using FX to symbolically trace a dynamo-optimized
    function") in the two-GPU plans."""
    torch.fx.symbolic_trace(_Slow())
    return gm.forward


@pytest.fixture(scope="module")
def dit(demo_model):
    return load_dit(ModelFolder(demo_model[0]), torch.float32, CPU)


@pytest.fixture
def speed():
    before = D.get_speed_options()
    yield D.set_speed_options
    D.set_speed_options(before)


def _prompts(dit, seed=0):
    g = torch.Generator().manual_seed(seed)
    text_dim = dit.text_embedding[0].in_features
    with torch.no_grad():
        return P.Prompts(D.embed_context(dit, torch.randn(1, 9, text_dim, generator=g)),
                         D.embed_context(dit, torch.randn(1, 9, text_dim, generator=g)))


def _step(plan, dit, prompts, cfg, frames=3, h=6, w=8):
    g = torch.Generator().manual_seed(3)
    x = torch.randn(1, 16, frames, h, w, generator=g)
    t = torch.full((1, frames), 870.0)
    with torch.no_grad():
        return plan.denoiser(dit, prompts, cfg)(x, t)


def test_auto_is_eager_on_the_cpu(dit):
    assert C.compile_enabled("auto", CPU) is False and C.compile_enabled(True, CPU) is True
    assert C.compile_unavailable_reason(CPU) == "compiled only on GPUs"
    assert not D.compiled_here(D.SpeedOptions(), torch.zeros(1))


@pytest.mark.parametrize("kind, cfg", [("cfg-parallel", 3.0), ("seq-split", 1.0)])
def test_two_threads_compile_one_at_a_time(dit, speed, kind, cfg):
    """Both "devices" enter the compiled phases at once, with a backend that raises the FX tracing flag while
    it compiles: the gate keeps the other thread out, and the result equals the eager one."""
    prompts = _prompts(dit)
    if cfg == 1:
        prompts = P.Prompts(prompts.positive, None)
    speed(compile=False)
    ref = _step(P.make_plan("cpu", [CPU]), dit, prompts, cfg)
    speed(compile=True, backend="pusa_test_fx_tracing")
    out = _step(P.make_plan(kind, [CPU, CPU]), dit, prompts, cfg, frames=3, h=6, w=8)
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)
    again = _step(P.make_plan(kind, [CPU, CPU]), dit, prompts, cfg)  # compiled before: no new compilation
    torch.testing.assert_close(again, out, rtol=0, atol=0)


def test_gate_lets_calls_run_together_but_compiles_alone():
    gate = C.CompileGate()
    inside, most = [0], [0]
    lock = threading.Lock()
    log: list[str] = []

    def call(kind: str):
        ctx = gate.compiling() if kind == "compile" else gate.running()
        with ctx:
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
                log.append(f"{kind} in {inside[0]}")
            time.sleep(0.05)
            with lock:
                inside[0] -= 1

    threads = [threading.Thread(target=call, args=("run",)) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert most[0] > 1  # compiled calls of known signatures run side by side
    log.clear()
    threads = [threading.Thread(target=call, args=(k,)) for k in ("compile", "run", "compile", "run")]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert all(line == "compile in 1" for line in log if line.startswith("compile"))
    with gate.compiling(), gate.compiling(), gate.running():  # one thread may nest (a probe inside a phase)
        pass


def test_sizes_are_remembered_per_machine(tmp_path, monkeypatch):
    monkeypatch.setenv(C.CACHE_ENV, str(tmp_path))
    key = "gpu|test|bf16|1x16x21x60x104|cfg|fp80|tune0"
    assert C.size_status(key) == "new"
    C.size_done(key)
    assert C.size_status(key) is None  # this process ran it
    C._sizes_seen.discard(key)  # as a later process sees it
    assert C.size_status(key) == "cached"
    assert (tmp_path / "sizes.json").exists()


def test_first_compiled_job_at_a_size_says_optimizing(engine, tiny, speed, tmp_path, monkeypatch):
    monkeypatch.setenv(C.CACHE_ENV, str(tmp_path))
    speed(compile=False)
    events: list = []
    ref = engine.run(tiny(steps=2, width=48, height=32, frames=9), events.append)[1].latents
    assert not [e for e in events if isinstance(e, PhaseProgress) and e.phase is Phase.OPTIMIZING]
    speed(compile=True, backend="aot_eager")
    for attempt in range(2):
        events.clear()
        out = engine.run(tiny(steps=2, width=48, height=32, frames=9), events.append)[1].latents
        kinds = [e.phase if isinstance(e, PhaseProgress) else "step" for e in events
                 if isinstance(e, (PhaseProgress, StepProgress))]
        if attempt == 0:  # announced once, before the first step
            assert Phase.OPTIMIZING in kinds and kinds.index(Phase.OPTIMIZING) < kinds.index("step")
        else:
            assert Phase.OPTIMIZING not in kinds
        torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)
