"""Device plans: the choice, the names, and that every plan computes the same velocity.

The two-GPU plans run here with two CPU "devices": the same code paths (threads per device, the head
exchange, block placement, block streaming), compared with the single-device result on the demo model.
Per-model state (the second DiT, the block streamer, the text encoder's loan) lives on the plan object.
"""

from __future__ import annotations

import pytest
import torch

from pusa_engine import plans as P
from pusa_engine.dit import embed_context
from pusa_engine.loader import load_dit
from pusa_engine.model_files import ModelFolder

CPU = torch.device("cpu")
GiB = 2**30


@pytest.fixture(scope="module")
def dit(demo_model):
    model_dir, _ = demo_model
    return load_dit(ModelFolder(model_dir), torch.float32, CPU)


def _fresh_dit(demo_model):
    return load_dit(ModelFolder(demo_model[0]), torch.float32, CPU)


def _prompts(dit, cfg=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    text_dim = dit.text_embedding[0].in_features
    with torch.no_grad():
        pos = embed_context(dit, torch.randn(1, 9, text_dim, generator=g))
        neg = embed_context(dit, torch.randn(1, 9, text_dim, generator=g)) if cfg else None
    return P.Prompts(pos, neg)


def _step_inputs(frames=5, h=6, w=8, seed=3):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, 16, frames, h, w, generator=g)
    t = torch.full((1, frames), 870.0)
    t[0, 0] = 170.0
    return x, t


def _velocity(plan, dit, prompts, cfg, x, t):
    with torch.no_grad():
        return plan.denoiser(dit, prompts, cfg)(x, t)


@pytest.mark.parametrize("cfg", [3.0, 1.0])
@pytest.mark.parametrize("kind", ["cfg-parallel", "seq-split"])
def test_two_device_plans_match_one_device(dit, kind, cfg):
    prompts = _prompts(dit, cfg=cfg != 1)
    x, t = _step_inputs()
    ref = _velocity(P.make_plan("cpu", [CPU]), dit, prompts, cfg, x, t)
    out = _velocity(P.make_plan(kind, [CPU, CPU]), dit, prompts, cfg, x, t)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


def test_sequence_split_with_uneven_rows_and_many_ranks(dit):
    """5 token rows over 3 "devices": uneven row blocks, heads 2 over 3 ranks (one rank gets none)."""
    prompts = _prompts(dit)
    x, t = _step_inputs(h=10, w=4)
    ref = _velocity(P.make_plan("cpu", [CPU]), dit, prompts, 2.0, x, t)
    out = _velocity(P.make_plan("seq-split", [CPU, CPU, CPU]), dit, prompts, 2.0, x, t)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


def test_memory_split_matches_one_device(demo_model):
    dit = _fresh_dit(demo_model)
    prompts = _prompts(dit)
    x, t = _step_inputs()
    ref = _velocity(P.make_plan("cpu", [CPU]), dit, prompts, 3.0, x, t)
    plan = P.make_plan("mem-split", [CPU, CPU])
    plan.prepare_dit(dit)
    torch.testing.assert_close(_velocity(plan, dit, prompts, 3.0, x, t), ref, rtol=1e-6, atol=1e-6)


def test_block_streaming_matches_one_device(demo_model):
    dit = _fresh_dit(demo_model)
    prompts = _prompts(dit)
    x, t = _step_inputs()
    ref = _velocity(P.make_plan("cpu", [CPU]), dit, prompts, 3.0, x, t)
    plan = P.make_plan("offload", [CPU])
    assert plan.load_device == CPU
    plan.prepare_dit(dit)
    out = _velocity(plan, dit, prompts, 3.0, x, t)
    assert torch.equal(out, ref)
    # the slots are reused: a second step is still right
    assert torch.equal(_velocity(plan, dit, prompts, 3.0, x, t), ref)


def test_replicas_follow_weight_changes(demo_model):
    """After the LoRA alpha changes the weights, the second DiT is re-synced before the next step."""
    dit = _fresh_dit(demo_model)
    plan = P.make_plan("cfg-parallel", [CPU, CPU])
    second = P.replicate(dit, CPU)  # stands for the copy on a second GPU
    plan.use_replicas(dit, {"other": second}, weights_version=1.0)
    with torch.no_grad():
        dit.blocks[0].ffn[0].weight.mul_(2)
    assert not torch.equal(second.blocks[0].ffn[0].weight, dit.blocks[0].ffn[0].weight)
    plan.replicas(dit, weights_version=1.0)  # same version: untouched
    assert not torch.equal(second.blocks[0].ffn[0].weight, dit.blocks[0].ffn[0].weight)
    plan.replicas(dit, weights_version=2.0)
    assert torch.equal(second.blocks[0].ffn[0].weight, dit.blocks[0].ffn[0].weight)


def test_plan_state_is_freed_with_the_model(demo_model):
    """Nothing in the plan keeps a closed engine's models alive (second DiT, streamer, text weights)."""
    import gc
    import weakref

    dit = _fresh_dit(demo_model)
    plan = P.make_plan("offload", [CPU])
    plan.prepare_dit(dit)
    with torch.no_grad():
        plan.denoiser(dit, _prompts(dit), 3.0)(*_step_inputs())
    assert set(plan.model_state()) == {"_streamer"}  # held by the plan, not by the model
    assert not any(k.startswith("_pusa_") for k in dit.__dict__)
    ref = weakref.ref(dit)
    del dit
    gc.collect()
    assert ref() is None
    assert plan.model_state() == {}  # dropped with the model it belonged to


def test_engine_close_frees_the_plan_state(demo_model):
    """The engine owns its plan; closing the engine drops what the plan kept for the closed models."""
    from pusa_engine.engine import Engine

    eng = Engine(demo_model[0], demo_model[1], plan="cpu")
    eng.plan = P.make_plan("offload", [CPU])
    eng.load()
    assert set(eng.plan.model_state()) == {"_streamer"}
    eng.close()
    assert eng.plan.model_state() == {}


def test_text_encoder_loan_is_kept_on_the_plan(monkeypatch):
    """A GPU text device (the loan lends to the CPU here, standing in): the loan lives on the plan, the
    weights go home after encoding unless kept, and the loan goes when the encoder does."""
    import gc

    gpu = torch.device("cuda", 0)
    lend = P.WeightsOnLoan.lend

    def lend_here(loan, device):
        lend(loan, CPU)
        loan.device = device

    monkeypatch.setattr(P.WeightsOnLoan, "lend", lend_here)
    m = torch.nn.Linear(2, 2)
    plan = P.make_plan("cpu", [CPU])
    with plan.text_encoder_on(m, gpu):
        assert plan.model_state()["_loan"].device == gpu
    assert plan.model_state()["_loan"].device is None and "_pusa_loan" not in m.__dict__
    plan.keep_text_encoder = True
    with plan.text_encoder_on(m, gpu):
        pass
    loan = plan.model_state()["_loan"]
    assert loan.device == gpu  # kept on its device between prompts
    plan.release()  # given back before the state is dropped
    assert loan.device is None and plan.model_state() == {}
    with plan.text_encoder_on(m, gpu):
        pass
    assert set(plan.model_state()) == {"_loan"}
    del m, loan
    gc.collect()
    assert plan.model_state() == {}


def test_one_class_per_kind():
    for kind, cls in P.PLAN_CLASSES.items():
        devs = [CPU] * cls.min_devices
        plan = P.make_plan(kind, devs)
        assert type(plan) is cls and plan.kind == kind and isinstance(plan, P.DevicePlan)
        assert plan.describe().startswith(P.KINDS[kind])
    assert P.TWO_DEVICE_KINDS == ("cfg-parallel", "seq-split", "mem-split")
    with pytest.raises(ValueError, match="unknown plan kind"):
        P.make_plan("tpu", [CPU])


def test_devices_module_keeps_the_engine_names():
    from pusa_engine import devices

    for name in ("DevicePlan", "Prompts", "available_plans", "choose_plan", "make_plan", "WeightsOnLoan"):
        assert getattr(devices, name) is getattr(P, name)


def test_replicate_copies_every_tensor(dit):
    plan = P.make_plan("cfg-parallel", [CPU, CPU])
    plan.use_replicas(dit, {"x": P.replicate(dit, CPU)})  # plan state for this DiT: on the plan, not copied
    rep = P.replicate(dit, CPU)
    assert "_pusa_replicas" not in rep.__dict__
    assert set(plan.model_state()) == {"_replicas"} and not any(k.startswith("_pusa_") for k in dit.__dict__)
    for (n, a), (_, b) in zip(dit.state_dict().items(), rep.state_dict().items(), strict=True):
        assert torch.equal(a, b), n
        assert a.data_ptr() != b.data_ptr(), n


def test_a_failing_rank_does_not_hang_the_others(dit):
    prompts = _prompts(dit)
    x, t = _step_inputs()
    plan = P.make_plan("seq-split", [CPU, CPU])
    bad = P.replicate(dit, CPU)
    bad.blocks[1].self_attn.q = None  # rank 1 fails in its second block
    with pytest.raises(TypeError):
        with torch.no_grad():
            P.sequence_split_denoiser([dit, bad], plan.dit_devices, prompts, 3.0, plan._workers())(x, t)


def test_engine_runs_the_same_job_on_every_plan(demo_model, tmp_path):
    """Whole jobs through Engine.run: latents agree with the CPU plan's on two-"device" plans."""
    from pusa_engine.engine import Engine
    from pusa_engine.request import GenerationRequest

    model_dir, lora = demo_model
    req = GenerationRequest(prompt="a red cat walks", width=64, height=48, frames=9, steps=2, cfg=3.0, seed=5)
    results = {}
    for kind, devs in (("cpu", [CPU]), ("cfg-parallel", [CPU, CPU]), ("seq-split", [CPU, CPU]),
                       ("mem-split", [CPU, CPU]), ("offload", [CPU])):
        eng = Engine(model_dir, lora, plan="cpu")
        eng.plan = P.make_plan(kind, devs)
        eng.load()
        _, result, video = eng.run(req)
        results[kind] = result.latents
        eng.close()
    for kind, lat in results.items():
        torch.testing.assert_close(lat, results["cpu"], rtol=1e-4, atol=1e-4, msg=kind)


# ---- choosing ------------------------------------------------------------------------------------------
def test_auto_choice_from_free_memory():
    dit = P.DIT_14B_BYTES
    assert P.auto_plan_name([]) == "cpu"
    assert P.auto_plan_name([80 * GiB]) == "cuda:0"
    assert P.auto_plan_name([24 * GiB]) == "cuda:0+offload"
    assert P.auto_plan_name([4 * GiB]) == "cpu"
    assert P.auto_plan_name([80 * GiB, 80 * GiB]) == "cuda:0,1"
    assert P.auto_plan_name([48 * GiB, 48 * GiB]) == "cuda:0,1"  # the seed's two A6000s
    assert P.auto_plan_name([24 * GiB, 24 * GiB]) == "cuda:0,1+split"
    assert P.auto_plan_name([10 * GiB, 80 * GiB]) == "cuda:1"
    assert P.auto_plan_name([80 * GiB, 10 * GiB, 80 * GiB]) == "cuda:0,2"
    assert P.auto_plan_name([12 * GiB, 12 * GiB]) == "cuda:0+offload"
    assert P.auto_plan_name([80 * GiB], dit_bytes=dit) == "cuda:0"


def test_plan_names_and_descriptions():
    cpu = P.choose_plan("cpu")
    assert cpu.kind == "cpu" and cpu.dtype == torch.float32 and cpu.state_device == CPU
    assert cpu.describe().startswith("CPU: DiT on cpu")
    if not torch.cuda.is_available():
        assert P.choose_plan("auto").kind == "cpu"
        assert P.available_plans() == ["auto", "cpu"]
        with pytest.raises(ValueError, match="needs an NVIDIA GPU"):
            P.choose_plan("cuda:0,1")
    with pytest.raises(ValueError, match="unknown device plan"):
        P.choose_plan("tpu")
    two = P.make_plan("cfg-parallel", [CPU, CPU])
    assert "CFG-parallel" in two.describe() and two.text_device == CPU
    with pytest.raises(ValueError, match="two devices"):
        P.make_plan("seq-split", [CPU])
    assert P.make_plan("offload", [CPU]).load_device == CPU


# ---- weights on loan (the text encoder's release) ----------------------------------------------------------
def test_weights_on_loan_give_back_without_copying():
    m = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3))
    m.register_buffer("scale", torch.ones(3))
    loan = P.WeightsOnLoan(m)
    home = [t.data_ptr() for t in loan.home]
    x = torch.randn(2, 4)
    ref = m(x)
    loan.lend(CPU)
    torch.testing.assert_close(m(x), ref)
    loan.give_back()
    now = [p.data_ptr() for p in m.parameters()] + [m.scale.data_ptr()]
    assert sorted(now) == sorted(home)
    torch.testing.assert_close(m(x), ref)


def test_text_encoder_on_cpu_plan_is_a_no_op():
    m = torch.nn.Linear(2, 2)
    plan = P.make_plan("cpu", [CPU])
    ptr = m.weight.data_ptr()
    with plan.text_encoder_on(m):
        assert m.weight.data_ptr() == ptr
    assert "_pusa_loan" not in m.__dict__
    assert plan.model_state() == {}


# ---- the same code paths on a real GPU (skipped where there is none) ---------------------------------------
gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@gpu
def test_gpu_plans_match_the_one_gpu_plan(demo_model):
    """Every two-GPU plan with both "devices" = cuda:0, and block streaming, through Engine.run."""
    from pusa_engine.engine import Engine
    from pusa_engine.request import GenerationRequest

    model_dir, lora = demo_model
    cuda = torch.device("cuda", 0)
    req = GenerationRequest(prompt="a red cat walks", width=64, height=48, frames=9, steps=2, cfg=3.0, seed=5)
    results = {}
    for kind, devs in (("gpu", [cuda]), ("cfg-parallel", [cuda, cuda]), ("seq-split", [cuda, cuda]),
                       ("mem-split", [cuda, cuda]), ("offload", [cuda])):
        eng = Engine(model_dir, lora, plan="cuda:0")
        eng.plan = P.make_plan(kind, devs)
        eng.load()
        _, result, _ = eng.run(req)
        assert next(eng.text_encoder.parameters()).device.type == "cpu"  # released after encoding
        results[kind] = result.latents.float()
        eng.close()
    ref = results["gpu"]
    for kind, lat in results.items():
        err = ((lat - ref).norm() / ref.norm()).item()
        assert err < 2e-2, (kind, err)


@gpu
def test_gpu_auto_plan_keeps_the_text_encoder_when_it_fits():
    plan = P.choose_plan("cuda:0", dit_bytes=10**6)
    assert plan.keep_text_encoder == (torch.cuda.mem_get_info(0)[0] > P.WORK_BYTES + P.T5_XXL_BYTES + 10**6)
    m = torch.nn.Linear(8, 8)
    with plan.text_encoder_on(m):
        assert m.weight.is_cuda
    assert m.weight.is_cuda == plan.keep_text_encoder
