"""Benchmark: our engine against stock diffsynth, in one run, on the same GPU and the same weights.

    python -m pusa_engine.bench                     # full-size 14B shapes, random bf16 weights, on cuda:0
    python -m pusa_engine.bench --tiny --device cpu  # every code path on a tiny model (smoke test)
    python -m pusa_engine.bench --loader-ram DIR     # peak RAM of loading the 14B DiT from shards in DIR

Weights are random (values do not change the cost; real weights are not needed). The reference
workload is Pusa I2V: 832x480, 81 frames, 10 steps, CFG 3, one keyframe at slot 0 with multiplier 0.2,
through our sampler and device plan; diffsynth runs its WanVideoPipeline text-to-video at the same
size, steps and CFG (its own text encoding, denoising loop, scheduler and default tiled VAE decode).
Also 720p at 1 step. Prints one table; `--json` writes every number.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import torch

from .model_files import WAN_14B_CONFIG, DiTConfig
from .networks import T5Dims, VAEDims, build_dit, build_text_encoder, build_vae_network, wan_vae_with_network

T5_XXL = T5Dims(vocab=256384, dim=4096, dim_attn=4096, dim_ffn=10240, num_heads=64, num_layers=24, num_buckets=32)
TINY_DIT = DiTConfig(dim=256, ffn_dim=512, freq_dim=256, in_dim=16, out_dim=16, num_heads=8, num_layers=2, eps=1e-6,
                     text_dim=64)
TINY_T5 = T5Dims(vocab=384, dim=64, dim_attn=64, dim_ffn=128, num_heads=2, num_layers=2, num_buckets=32)
PROMPT = ("A golden retriever runs along a beach at sunset, waves rolling in, camera tracking at low height, "
          "cinematic light, shallow depth of field")
GiB = 2**30


# ---- models with random weights, built directly on the device ------------------------------------------
@torch.no_grad()
def _init_random(model: torch.nn.Module, seed: int) -> None:
    gen_dev = next(model.parameters()).device
    g = torch.Generator(gen_dev).manual_seed(seed)
    for name, p in model.named_parameters():
        if p.dim() >= 2:
            fan_in = p[0].numel()
            p.normal_(0.0, fan_in ** -0.5, generator=g)
        elif "norm" in name and name.endswith("weight"):
            p.fill_(1.0)
        else:
            p.normal_(0.0, 0.02, generator=g)


def random_dit(config: DiTConfig, device: torch.device, dtype: torch.dtype, seed: int = 0):
    model = build_dit(config, "meta").to(dtype).to_empty(device=device)
    _init_random(model, seed)
    return model


def random_text_encoder(dims: T5Dims, device: torch.device, dtype: torch.dtype, seed: int = 1):
    model = build_text_encoder(dims, "meta").to(dtype).to_empty(device=device)
    _init_random(model, seed)
    return model


def random_vae(device: torch.device, dtype: torch.dtype, tiny: bool, seed: int = 2):
    from diffsynth.models.wan_video_vae import WanVideoVAE

    torch.manual_seed(seed)
    if tiny:
        vae = wan_vae_with_network(build_vae_network(VAEDims(dim=8, num_res_blocks=1), "cpu"))
    else:
        vae = WanVideoVAE(z_dim=16)  # the full-size network, default init
    vae.model.to(device, dtype)
    return vae.eval().requires_grad_(False)


def tokenizer(folder: Path):
    from diffsynth.models.wan_video_text_encoder import HuggingfaceTokenizer

    from .demo_model import _write_tokenizer

    _write_tokenizer(folder, 384)
    return HuggingfaceTokenizer(name=str(folder), seq_len=512, clean="whitespace")


# ---- timing ---------------------------------------------------------------------------------------------
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device: torch.device):
    _sync(device)
    t0 = time.perf_counter()
    out = fn()
    _sync(device)
    return time.perf_counter() - t0, out


def median_time(fn, device: torch.device, reps: int, warmup: int = 1) -> tuple[float, list[float]]:
    for _ in range(warmup):
        timed(fn, device)
    times = [timed(fn, device)[0] for _ in range(reps)]
    return statistics.median(times), times


def _reset_peak(devices) -> None:
    for d in devices:
        if d.type == "cuda":
            torch.cuda.reset_peak_memory_stats(d)


def _peak(devices) -> dict[str, float]:
    return {str(d): torch.cuda.max_memory_allocated(d) / GiB for d in devices if d.type == "cuda"}


def _free() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# ---- the benchmark --------------------------------------------------------------------------------------
@dataclass
class Size:
    name: str
    width: int
    height: int
    frames: int
    steps: int


class Bench:
    def __init__(self, args):
        self.args = args
        self.device = torch.device(args.device)
        self.dtype = torch.bfloat16 if not args.float32 else torch.float32
        self.config = TINY_DIT if args.tiny else WAN_14B_CONFIG
        self.results: dict = {"rows": [], "errors": [], "env": env_info(self.device)}
        self.out_json = Path(args.json) if args.json else None
        self.start = time.perf_counter()

    # bookkeeping
    def row(self, section: str, what: str, ours=None, theirs=None, unit: str = "s", note: str = "") -> None:
        r = {"section": section, "what": what, "ours": ours, "diffsynth": theirs, "unit": unit, "note": note}
        self.results["rows"].append(r)
        print(f"[{time.perf_counter() - self.start:7.1f}s] {section:>6} | {what:<44} | ours {_fmt(ours)} | "
              f"diffsynth {_fmt(theirs)} {unit} {note}", flush=True)
        self.save()

    def save(self) -> None:
        if self.out_json:
            self.out_json.write_text(json.dumps(self.results, indent=1, default=str))

    def stage(self, name: str, fn) -> None:
        if self.args.budget_s and time.perf_counter() - self.start > self.args.budget_s:
            print(f"skipping {name}: past the time budget", flush=True)
            self.results["errors"].append(f"{name}: skipped (time budget)")
            return
        try:
            fn()
        except Exception as e:  # noqa: BLE001  (a failing stage must not lose the others' numbers)
            traceback.print_exc()
            self.results["errors"].append(f"{name}: {type(e).__name__}: {e}")
            self.save()
        finally:
            _free()

    # setup
    def build(self) -> None:
        dev, dt = self.device, self.dtype
        t, self.dit = timed(lambda: random_dit(self.config, dev, dt), dev)
        print(f"DiT {sum(p.numel() for p in self.dit.parameters()) / 1e9:.2f} B parameters on {dev} ({t:.1f} s)")
        t5 = TINY_T5 if self.args.tiny else T5_XXL
        self.text_encoder = random_text_encoder(t5, dev, dt)
        self.vae = random_vae(dev, dt, self.args.tiny)
        self.tmp = Path(tempfile.mkdtemp(prefix="pusa-bench-"))
        self.tokenizer = tokenizer(self.tmp / "tok")
        if dev.type == "cuda":
            print(f"weights resident: {torch.cuda.memory_allocated(dev) / GiB:.1f} GiB")

    def sizes(self) -> list[Size]:
        if self.args.tiny:
            return [Size("tiny", 64, 48, 17, self.args.steps), Size("tiny-720", 80, 48, 17, 1)]
        out = []
        if self.args.size in ("480p", "both"):
            out.append(Size("480p", 832, 480, 81, self.args.steps))
        if self.args.size in ("720p", "both"):
            out.append(Size("720p", 1280, 720, 81, 1))
        return out

    # pieces of a job
    def encode_text(self, text: str) -> torch.Tensor:
        ids, mask = self.tokenizer(text, return_mask=True, add_special_tokens=True)
        emb = self.text_encoder(ids.to(self.device), mask.to(self.device))
        emb[:, int(mask.sum()):] = 0
        return emb

    def latent_shape(self, s: Size) -> tuple[int, ...]:
        return (1, 16, (s.frames - 1) // 4 + 1, s.height // 8, s.width // 8)

    def our_denoiser(self, prompts, cfg, plan=None):
        from .devices import make_plan

        plan = plan or make_plan("gpu" if self.device.type == "cuda" else "cpu", [self.device], self.dtype)
        return plan.denoiser(self.dit, prompts, cfg)

    def prompts(self, with_negative=True):
        from .devices import Prompts
        from .dit import embed_context
        from .request import WAN_NEGATIVE_PROMPT

        pos = embed_context(self.dit, self.encode_text(PROMPT))
        neg = embed_context(self.dit, self.encode_text(WAN_NEGATIVE_PROMPT)) if with_negative else None
        return Prompts(pos, neg)

    # stages
    def ceilings(self) -> None:
        if self.device.type != "cuda":
            return
        a = torch.randn(8192, 8192, device=self.device, dtype=torch.bfloat16)
        b = torch.randn(8192, 8192, device=self.device, dtype=torch.bfloat16)
        t, _ = median_time(lambda: a @ b, self.device, 10, 3)
        self.results["matmul_tflops"] = 2 * 8192**3 / t / 1e12
        self.row("env", "bf16 matmul 8192^3 (TFLOP/s)", round(self.results["matmul_tflops"]), unit="TFLOP/s")
        from torch.nn.attention import SDPBackend, sdpa_kernel

        s = self.sizes()[0]
        f, h, w = (s.frames - 1) // 4 + 1, s.height // 16, s.width // 16
        L, H, Dh = f * h * w, self.config.num_heads, self.config.head_dim
        q, k, v = (torch.randn(1, H, L, Dh, device=self.device, dtype=torch.bfloat16) for _ in range(3))
        flops = 4 * L * L * H * Dh
        best = {}
        for name, be in (("cudnn", SDPBackend.CUDNN_ATTENTION), ("flash", SDPBackend.FLASH_ATTENTION),
                         ("efficient", SDPBackend.EFFICIENT_ATTENTION)):
            try:
                with sdpa_kernel([be]):
                    t, _ = median_time(lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v),
                                       self.device, 3, 1)
                best[name] = t
                self.row("env", f"SDPA {name} {s.name} one layer (TFLOP/s)", round(flops / t / 1e12),
                         unit="TFLOP/s", note=f"{t * 1e3:.1f} ms")
            except Exception as e:  # noqa: BLE001
                self.row("env", f"SDPA {name}", note=f"unavailable: {str(e).splitlines()[0][:80]}")
        self.results["sdpa"] = best
        if best:
            self.results["sdpa_best"] = min(best, key=best.get)
        try:
            with torch.nn.attention.sdpa_kernel([SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION,
                                                 SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]):
                t, _ = median_time(lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v),
                                   self.device, 3, 1)
            self.row("env", "SDPA default choice, one layer", round(flops / t / 1e12), unit="TFLOP/s",
                     note="(what diffsynth gets)")
        except Exception:  # noqa: BLE001
            pass

    def forwards(self, s: Size) -> None:
        """Seconds per DiT forward: ours eager, ours compiled, diffsynth's model_fn_wan_video."""
        from diffsynth.pipelines.wan_video import model_fn_wan_video

        from .dit import SpeedOptions, forward_flops_split, set_speed_options

        dev = self.device
        shape = self.latent_shape(s)
        x = torch.randn(shape, device=dev, dtype=self.dtype)
        # one shared timestep, so diffsynth's output is the same function: compared below at full size
        t = torch.full((1, shape[2]), 980.0, device=dev, dtype=self.dtype)
        prompts = self.prompts(with_negative=False)
        raw_ctx = self.encode_text(PROMPT)
        tokens = shape[2] * (shape[3] // 2) * (shape[4] // 2)
        lin, att = forward_flops_split(tokens, 512, self.config.dim, self.config.ffn_dim, self.config.num_layers)
        self.results.setdefault("flops", {})[s.name] = {"linear": lin, "attention": att, "tokens": tokens}
        reps = self.args.reps if s.steps > 1 else 1
        warm = 1 if s.steps > 1 else 0
        times, outs = {}, {}
        modes = ["eager"] + (["compiled"] if self.args.compile in ("auto", "on") else [])
        if s.steps == 1 and len(modes) == 2 and self.results.get("best_mode"):
            modes = [next(iter(self.results["best_mode"].values()))]  # 720p: only the mode 480p chose
        for mode in modes:
            set_speed_options(SpeedOptions(compile=mode == "compiled", attention=self.args.attention,
                                           tune=self.args.tune))
            denoise = self.our_denoiser(prompts, 1.0)
            if mode == "compiled":
                import torch._dynamo.utils as dyn_utils

                tc, _ = timed(lambda d=denoise: d(x, t), dev)
                graphs = dyn_utils.counters["stats"]["unique_graphs"]
                self.row(s.name, "compile + first forward (one-time)", tc, note=f"{graphs} graphs so far")
            elif not warm:
                timed(lambda d=denoise: d(x, t), dev)  # first call: tables, cuDNN plans
            tm, all_t = median_time(lambda d=denoise: d(x, t), dev, reps, 0)
            times[mode] = tm
            outs[mode] = denoise(x, t)
            self.row(s.name, f"DiT forward, ours ({mode})", tm, note=f"runs {[round(a, 3) for a in all_t]}")
        self.results.setdefault("forward", {})[s.name] = times
        from .dit import attention_choices

        picks = {f"q{list(k[1])} k{list(k[2])}": v for k, v in attention_choices().items()}
        self.results.setdefault("attention_auto", {}).update(picks)
        for k, v in picks.items():
            print(f"  attention auto-pick {k}: {v}", flush=True)
        best = min(times, key=times.get)
        self.results.setdefault("best_mode", {})[s.name] = best
        set_speed_options(SpeedOptions(compile=best == "compiled", attention=self.args.attention, tune=self.args.tune))
        ts = torch.tensor([980.0], device=dev, dtype=self.dtype)
        if not self.args.no_diffsynth:
            td, all_d = median_time(lambda: model_fn_wan_video(dit=self.dit, latents=x, timestep=ts, context=raw_ctx),
                                    dev, reps, warm)
            self.results["forward"][s.name]["diffsynth"] = td
            ref = model_fn_wan_video(dit=self.dit, latents=x, timestep=ts, context=raw_ctx).float()
            for mode, o in outs.items():
                err = ((o.float() - ref).norm() / ref.norm()).item()
                self.row(s.name, f"forward rel. difference, ours {mode} vs diffsynth", err, unit="",
                         note="bf16 rounding is ~1e-2")
                self.results.setdefault("forward_rel_err", {})[f"{s.name}-{mode}"] = err
            self.row(s.name, "DiT forward", times[best], td, note=f"ours {best}; diffsynth runs "
                     f"{[round(a, 3) for a in all_d]}")
        flops = lin + att
        peak = self.results.get("matmul_tflops")
        self.row(s.name, "forward PFLOP (linear + attention)", round(flops / 1e15, 3), unit="PFLOP",
                 note=f"{lin / 1e15:.3f} + {att / 1e15:.3f}")
        self.row(s.name, "achieved TFLOP/s per forward", round(flops / times[best] / 1e12),
                 round(flops / self.results["forward"][s.name]["diffsynth"] / 1e12)
                 if "diffsynth" in self.results["forward"][s.name] else None, unit="TFLOP/s",
                 note=f"matmul ceiling {round(peak) if peak else '-'}")

    def our_job(self, s: Size) -> None:
        """The reference workload through our sampler + one-GPU plan (keyframe at slot 0, m 0.2)."""
        from .sampler import Conditioning, sample
        from .vae_ops import LatentPreview, decode_latents, encode_video

        dev = self.device
        cfg = self.args.cfg
        shape = self.latent_shape(s)
        g = torch.Generator().manual_seed(0)
        image = (torch.rand(1, 3, 1, s.height, s.width, generator=g) * 2 - 1).to(dev, self.dtype)
        preview = LatentPreview(torch.randn(16, 3, generator=g) * 0.1, torch.zeros(3))
        phases = {}
        _reset_peak([dev])
        t_job = time.perf_counter()
        _sync(dev)
        phases["text"], prompts = timed(lambda: self.prompts(with_negative=cfg != 1), dev)
        # The engine's one-GPU plan releases the text encoder before denoising. Its weights are one constant
        # allocation here, so the released plan's peak is this peak minus their bytes (exact for allocated
        # memory); the move itself is timed apart (stage "text encoder move").
        t5_bytes = sum(p.numel() * p.element_size() for p in self.text_encoder.parameters())
        phases["keyframe"], z = timed(lambda: encode_video(self.vae, image), dev)
        noise = torch.randn(shape, generator=torch.Generator().manual_seed(42)).to(dev)
        conds = [Conditioning(0, z[:, :, 0], 0.2)]
        denoise = self.our_denoiser(prompts, cfg)
        step_times = []
        prev = [time.perf_counter()]

        def on_step(info):
            preview(info.clean_estimate())  # the engine's per-step preview (its host copy waits for the step)
            now = time.perf_counter()
            step_times.append(now - prev[0])
            prev[0] = now

        t0 = time.perf_counter()
        _sync(dev)
        prev[0] = time.perf_counter()
        result = sample(denoise, noise, conds, s.steps, 5.0, self.dtype, on_step=on_step)
        _sync(dev)
        phases["denoise"] = time.perf_counter() - t0
        peak_denoise = _peak([dev])
        phases["decode"], video = timed(lambda: decode_latents(self.vae, result.latents), dev)
        _sync(dev)
        total = time.perf_counter() - t_job
        peak = _peak([dev])
        released = {k: v - t5_bytes / GiB for k, v in peak.items()}
        self.results.setdefault("our_job", {})[s.name] = {"phases": phases, "total": total, "steps": step_times,
                                                          "peak_gib": released, "peak_resident_t5_gib": peak,
                                                          "peak_denoise_gib": peak_denoise,
                                                          "video_shape": list(video.shape)}
        self.our_latents = result.latents
        # preview cost alone
        est = result.latents.clone()
        tp, _ = median_time(lambda: preview(est), dev, 5, 1)
        self.results.setdefault("preview_s", {})[s.name] = tp
        print(f"  our job phases: { {k: round(v, 2) for k, v in phases.items()} }, steps "
              f"{[round(a, 2) for a in step_times]}", flush=True)

    def diffsynth_job(self, s: Size) -> None:
        from diffsynth.pipelines.wan_video import WanVideoPipeline

        from .request import WAN_NEGATIVE_PROMPT

        dev = self.device
        pipe = WanVideoPipeline(device=str(dev), torch_dtype=self.dtype)
        pipe.dit, pipe.vae, pipe.text_encoder, pipe.tokenizer = self.dit, self.vae, self.text_encoder, self.tokenizer
        _reset_peak([dev])
        total, video = timed(lambda: pipe(prompt=PROMPT, negative_prompt=WAN_NEGATIVE_PROMPT, seed=0,
                                          height=s.height, width=s.width, num_frames=s.frames,
                                          cfg_scale=self.args.cfg, num_inference_steps=s.steps,
                                          progress_bar_cmd=lambda x: x), dev)
        self.results.setdefault("diffsynth_job", {})[s.name] = {"total": total, "peak_gib": _peak([dev]),
                                                                "frames": len(video)}

    def decodes(self, s: Size) -> None:
        """VAE decode alone: ours (chunked, bf16, untiled) vs diffsynth's default tiled decode."""
        from .vae_ops import decode_latents

        dev = self.device
        z = torch.randn(self.latent_shape(s), generator=torch.Generator().manual_seed(3)).to(dev)
        _reset_peak([dev])
        t_ours, _ = timed(lambda: decode_latents(self.vae, z), dev)
        p_ours = _peak([dev]).get(str(dev))
        _reset_peak([dev])
        t_ds, _ = timed(lambda: self.vae.decode(z.to(self.dtype), device=dev, tiled=True, tile_size=(30, 52),
                                                tile_stride=(15, 26)), dev)
        p_ds = _peak([dev]).get(str(dev))
        self.results.setdefault("decode", {})[s.name] = {"ours": t_ours, "diffsynth_tiled": t_ds,
                                                         "peak_ours": p_ours, "peak_diffsynth": p_ds}

    def text_encoder_move(self) -> None:
        """What the engine pays per new prompt for releasing the encoder: CPU -> GPU -> CPU."""
        if self.device.type != "cuda":
            return
        from .devices import WeightsOnLoan

        loan = WeightsOnLoan(self.text_encoder)  # the engine's state: weights at home on the CPU
        t_on, _ = timed(lambda: loan.lend(self.device), self.device)
        t_off, _ = timed(loan.give_back, self.device)
        loan.lend(self.device)
        self.results["text_encoder_move_s"] = {"to_gpu": t_on, "release": t_off}
        self.row("all", "text encoder to GPU (from pageable CPU) / release", t_on, note=f"release {t_off:.3f} s")

    def text_alone(self) -> None:
        from .request import WAN_NEGATIVE_PROMPT

        t, _ = median_time(lambda: (self.encode_text(PROMPT), self.encode_text(WAN_NEGATIVE_PROMPT)),
                           self.device, 3, 1)
        self.results["text_s"] = t
        self.row("all", "text encoding, 2 prompts x 512 tokens", t)

    def step_diffsynth(self, s: Size) -> None:
        """One diffsynth denoising step (two model_fn passes, CFG, scheduler), as its pipeline runs it."""
        from diffsynth.diffusion import FlowMatchScheduler
        from diffsynth.pipelines.wan_video import model_fn_wan_video

        dev = self.device
        x = torch.randn(self.latent_shape(s), device=dev, dtype=self.dtype)
        c1, c2 = self.encode_text(PROMPT), self.encode_text("blurry")
        sched = FlowMatchScheduler("Wan")
        sched.set_timesteps(s.steps, shift=5.0)
        ts = sched.timesteps[0].unsqueeze(0).to(dtype=self.dtype, device=dev)

        def step():
            p = model_fn_wan_video(dit=self.dit, latents=x, timestep=ts, context=c1)
            n = model_fn_wan_video(dit=self.dit, latents=x, timestep=ts, context=c2)
            return sched.step(n + self.args.cfg * (p - n), sched.timesteps[0], x)

        t, _ = timed(step, dev)
        self.results.setdefault("diffsynth_step", {})[s.name] = t

    def plan_checks(self) -> None:
        """Two-GPU plans with both "devices" = this GPU (or both GPUs when there are two): one step,
        velocity against the one-device plan's, and the seconds it took."""
        from .devices import make_plan

        dev = self.device
        n_gpu = torch.cuda.device_count() if dev.type == "cuda" else 0
        second = torch.device("cuda", 1) if n_gpu >= 2 else dev
        s = self.sizes()[0]
        shape = list(self.latent_shape(s))
        shape[2] = self.args.check_frames
        g = torch.Generator().manual_seed(5)
        x = torch.randn(shape, generator=g).to(dev, self.dtype)
        t = torch.full((1, shape[2]), 900.0, dtype=self.dtype, device=dev)
        t[0, 0] = 180.0
        prompts = self.prompts(with_negative=True)
        cfg = self.args.cfg
        ref_plan = make_plan("gpu" if dev.type == "cuda" else "cpu", [dev], self.dtype)
        ref_d = ref_plan.denoiser(self.dit, prompts, cfg)
        t_ref, _ = median_time(lambda: ref_d(x, t), dev, 2, 1)
        ref = ref_d(x, t)
        self.row("plans", f"one device, 1 step ({shape[2]} latent frames)", t_ref)
        checks = [("cfg-parallel", cfg), ("seq-split", cfg), ("seq-split", 1.0), ("mem-split", cfg)]
        for kind, c in checks:
            try:
                plan = make_plan(kind, [dev, second], self.dtype)
                if kind == "mem-split" and second == dev:
                    pass  # blocks stay where they are; the code path still hops devices per block
                p = prompts if c != 1 else type(prompts)(prompts.positive, None)
                r = ref if c == cfg else ref_plan.denoiser(self.dit, p, c)(x, t)
                d = plan.denoiser(self.dit, p, c)
                tk, _ = median_time(lambda d=d: d(x, t), dev, 2, 1)
                out = d(x, t)
                err = ((out - r).norm() / r.norm()).item()
                self.row("plans", f"{kind} on {dev},{second} cfg {c}: rel. err vs one device", err,
                         unit="", note=f"{tk:.3f} s per step")
                self.results.setdefault("plans", {})[f"{kind}-cfg{c}"] = {"rel_err": err, "s": tk}
                plan._pool and plan._pool.shutdown()
            except Exception as e:  # noqa: BLE001
                traceback.print_exc()
                self.results["errors"].append(f"plan {kind}: {e}")

    def run(self) -> None:
        self.build()
        self.stage("ceilings", self.ceilings)
        self.stage("text", self.text_alone)
        sizes = self.sizes()
        for s in sizes:
            self.stage(f"forwards {s.name}", lambda s=s: self.forwards(s))
            self.stage(f"our job {s.name}", lambda s=s: self.our_job(s))
            if not self.args.no_diffsynth:
                self.stage(f"diffsynth job {s.name}", lambda s=s: self.diffsynth_job(s))
                if s.steps > 1:
                    self.stage(f"diffsynth step {s.name}", lambda s=s: self.step_diffsynth(s))
            self.stage(f"decode {s.name}", lambda s=s: self.decodes(s))
            if s is sizes[0] and not self.args.no_plans:
                self.stage("plan checks", self.plan_checks)
        self.stage("text encoder move", self.text_encoder_move)
        print(self.table(), flush=True)
        self.save()

    # the table
    def table(self) -> str:
        R = self.results
        env = R["env"]
        lines = [f"Pusa engine benchmark, {env['date']}: {env['device']}, torch {env['torch']}, "
                 f"cuDNN {env['cudnn']}, diffsynth {env['diffsynth']}, random {self.config.num_layers}-layer "
                 f"dim-{self.config.dim} weights ({'tiny' if self.args.tiny else 'Wan2.1-T2V-14B shapes'}), "
                 f"{str(self.dtype).replace('torch.', '')}",
                 "", "| | ours | diffsynth 2.1.12 | speedup |", "|---|---:|---:|---:|"]

        def line(what, a, b, unit="s", speed=True):
            sp = f"{b / a:.2f}x" if speed and a and b else ""
            lines.append(f"| {what} | {_fmt(a)} {unit if a is not None else ''} | "
                         f"{_fmt(b)} {unit if b is not None else ''} | {sp} |")

        for s in self.sizes():
            n = s.name
            f = R.get("forward", {}).get(n, {})
            best = R.get("best_mode", {}).get(n)
            job = R.get("our_job", {}).get(n, {})
            dj = R.get("diffsynth_job", {}).get(n, {})
            dec = R.get("decode", {}).get(n, {})
            lines.append(f"| **{n}: {s.width}x{s.height}, {s.frames} frames, {s.steps} steps, CFG {self.args.cfg}** "
                         f"| | | |")
            if f:
                line("DiT forward" + (f" ({best})" if best else ""), f.get(best), f.get("diffsynth"))
                if "compiled" in f and "eager" in f:
                    line("DiT forward, ours eager", f.get("eager"), f.get("diffsynth"))
            steps = job.get("steps") or []
            if steps:
                ds = R.get("diffsynth_step", {}).get(n)
                line("denoising step (2 passes + CFG)", statistics.median(steps), ds)
            if job:
                line("text encoding (2 prompts)", job["phases"].get("text"), None, speed=False)
                line("keyframe encode", job["phases"].get("keyframe"), None, speed=False)
            if dec:
                line("VAE decode (ours chunked bf16 / diffsynth tiled)", dec.get("ours"), dec.get("diffsynth_tiled"))
            if job or dj:
                line("whole job", job.get("total"), dj.get("total"))
                pj = job.get("peak_gib", {}).get(str(self.device))
                pd = dj.get("peak_gib", {}).get(str(self.device))
                line("peak GPU memory (ours: text encoder released)", pj, pd, unit="GiB", speed=False)
            fl = R.get("flops", {}).get(n)
            if fl and f.get(best):
                tot = fl["linear"] + fl["attention"]
                mm = R.get("matmul_tflops") or 800.0
                floor = tot / (mm * 1e12)
                lines.append(f"| forward FLOPs {tot / 1e15:.2f} PFLOP ({fl['linear'] / 1e15:.2f} linear + "
                             f"{fl['attention'] / 1e15:.2f} attention); floor at {mm:.0f} TFLOP/s {floor:.2f} s | "
                             f"{tot / f[best] / 1e12:.0f} TFLOP/s = {floor / f[best]:.0%} of floor | "
                             + (f"{tot / f['diffsynth'] / 1e12:.0f} TFLOP/s = {floor / f['diffsynth']:.0%}"
                                if f.get("diffsynth") else "") + " | |")
            tp = R.get("preview_s", {}).get(n)
            if tp is not None and steps:
                share = tp / statistics.median(steps)
                lines.append(f"| step preview | {tp * 1e3:.1f} ms = {share:.2%} of a step | | |")
        mv = R.get("text_encoder_move_s")
        if mv:
            lines.append(f"| text encoder 11.4 GB CPU->GPU / release (when the plan does not keep it; not in the "
                         f"job) | {mv['to_gpu']:.2f} / {mv['release']:.3f} s | | |")
        if R.get("plans"):
            lines.append("")
            lines.append("two-device plans (one step, velocity vs the one-device plan):")
            for k, v in R["plans"].items():
                lines.append(f"  {k}: relative difference {v['rel_err']:.2e}, {v['s']:.3f} s per step")
        if R["errors"]:
            lines.append("")
            lines += [f"error: {e}" for e in R["errors"]]
        return "\n".join(lines)


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if v != 0 and (abs(v) < 0.01 or abs(v) >= 1e5):
            return f"{v:.2e}"
        return f"{v:.2f}"
    return str(v)


def env_info(device: torch.device) -> dict:
    try:
        from importlib.metadata import version

        import diffsynth  # noqa: F401

        ds = version("diffsynth")
    except Exception:  # noqa: BLE001
        ds = "?"
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "torch": torch.__version__, "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "diffsynth": ds, "python": platform.python_version(),
        "gpus": torch.cuda.device_count() if torch.cuda.is_available() else 0,
    }


# ---- two GPUs (issue: measure the two-GPU plans) ----------------------------------------------------------
def two_gpu(args) -> None:
    """One GPU vs two (issue 6): the reference job's denoising on one GPU and CFG-parallel on two, and
    CFG 1 at 4 steps on one GPU and with the sequence split; latents compared with the one-GPU plan's."""
    from .devices import make_plan, replicate
    from .sampler import Conditioning, sample

    d0, d1 = (torch.device(d) for d in args.devices.split(","))
    args.device = str(d0)
    b = Bench(args)
    b.build()
    cuda = d0.type == "cuda"
    devs = [d0] if d1 == d0 else [d0, d1]
    prompts = b.prompts(with_negative=True)
    s = b.sizes()[0]
    shape = b.latent_shape(s)
    g = torch.Generator().manual_seed(42)
    noise = torch.randn(shape, generator=g).to(d0)
    conds = [Conditioning(0, torch.randn(1, 16, shape[3], shape[4], generator=g).to(d0), 0.2)]
    t5_gib = sum(p.numel() * p.element_size() for p in b.text_encoder.parameters()) / GiB
    if d1 != d0:
        t_rep, rep = timed(lambda: replicate(b.dit, d1), d1)
        gb = sum(p.numel() * p.element_size() for p in b.dit.parameters()) / 1e9
        print(f"DiT copy to {d1}: {t_rep:.2f} s ({gb / t_rep:.1f} GB/s)", flush=True)
        b.dit.__dict__["_pusa_replicas"] = {"version": None, "copies": {str(d1): rep}}
        x = torch.randn(512 * 2**20, device=d0).to(torch.uint8)
        tb, _ = median_time(lambda: x.to(d1), d0, 5, 1)
        print(f"device-to-device copy {d0} -> {d1}: {x.numel() / tb / 1e9:.1f} GB/s", flush=True)
    td, _ = timed(lambda: __import__("pusa_engine.vae_ops", fromlist=["decode_latents"]).decode_latents(
        b.vae, noise), d0)
    out = {}
    runs = ((f"1 GPU, CFG {args.cfg}, {s.steps} steps", "gpu", args.cfg, s.steps),
            (f"2 GPUs CFG-parallel, CFG {args.cfg}, {s.steps} steps", "cfg-parallel", args.cfg, s.steps),
            ("1 GPU, CFG 1, 4 steps", "gpu", 1.0, 4), ("2 GPUs sequence split, CFG 1, 4 steps", "seq-split", 1.0, 4))
    for label, kind, cfg, steps in runs:
        plan = make_plan(kind if cuda or kind != "gpu" else "cpu", [d0] if kind == "gpu" else [d0, d1], b.dtype)
        p = prompts if cfg != 1 else type(prompts)(prompts.positive, None)
        den = plan.denoiser(b.dit, p, cfg)
        den(noise.to(b.dtype), torch.full((1, shape[2]), 999.0, device=d0, dtype=b.dtype))  # warm-up
        _reset_peak(devs)
        t, res = timed(lambda den=den, steps=steps: sample(den, noise, conds, steps, 5.0, b.dtype), d0)
        _sync(d1)
        peak = {k: round(v - (t5_gib if k == str(d0) else 0), 2) for k, v in _peak(devs).items()}
        out[label] = {"s": t, "peak_gib_without_t5": peak, "latents": res.latents}
        print(f"{label}: denoise {t:.2f} s, whole job about {t + td + b.results.get('text_s', 0):.1f} s "
              f"(decode {td:.2f} s), peak GiB per GPU without the text encoder {peak}", flush=True)
    keys = list(out)
    for a, c in ((keys[0], keys[1]), (keys[2], keys[3])):
        la, lc = out[a]["latents"], out[c]["latents"]
        err = ((la - lc).norm() / la.norm()).item()
        print(f"{c}: speedup {out[a]['s'] / out[c]['s']:.2f}x over 1 GPU; latents relative difference {err:.2e}",
              flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "latents"}
                                               for k, v in out.items()} | {"env": b.results["env"]}, indent=1))


# ---- the block-streaming plan at full size -----------------------------------------------------------------
def one_forward_inputs(args):
    """A random-weight DiT (full size, or tiny with --tiny) and the inputs of one 480p forward at t = 980."""
    dev = torch.device(args.device)
    config = TINY_DIT if args.tiny else WAN_14B_CONFIG
    dit = random_dit(config, dev, torch.bfloat16)
    f, h, w = (21, 60, 104) if not args.tiny else (5, 6, 8)
    x = torch.randn(1, 16, f, h, w, device=dev, dtype=torch.bfloat16)
    t = torch.full((1, f), 980.0, device=dev, dtype=torch.bfloat16)
    ctx = torch.randn(1, 512, config.dim, device=dev, dtype=torch.bfloat16)
    return dev, dit, x, t, ctx


def offload(args) -> None:
    """One GPU that cannot hold the DiT: blocks in pinned CPU memory, streamed on a copy stream."""
    from .devices import Prompts, make_plan

    dev, dit, x, t, ctx = one_forward_inputs(args)
    resident = make_plan("gpu" if dev.type == "cuda" else "cpu", [dev], torch.bfloat16).denoiser(
        dit, Prompts(ctx, None), 1)
    t_res, _ = median_time(lambda: resident(x, t), dev, 2, 1)
    ref = resident(x, t).float()
    plan = make_plan("offload", [dev], torch.bfloat16)
    t_prep, _ = timed(lambda: plan.prepare_dit(dit), dev)
    _free()
    if dev.type == "cuda":
        print(f"offload: blocks moved to pinned CPU memory in {t_prep:.1f} s; GPU now holds "
              f"{torch.cuda.memory_allocated(dev) / GiB:.2f} GiB", flush=True)
    den = plan.denoiser(dit, Prompts(ctx, None), 1)
    _reset_peak([dev])
    t_off, _ = median_time(lambda: den(x, t), dev, 2, 1)
    out = den(x, t).float()
    peak = _peak([dev])
    err = ((out - ref).norm() / ref.norm()).item()
    print(f"offload plan 480p forward: {t_off:.2f} s (resident {t_res:.2f} s), peak {peak}, "
          f"relative difference to resident {err:.1e}", flush=True)


# ---- where a forward's time goes -----------------------------------------------------------------------
def _kernel_class(name: str) -> str:
    n = name.lower()
    if any(k in n for k in ("cudnn", "flash", "fmha", "attention", "sdpa")):
        return "attention"
    if any(k in n for k in ("gemm", "nvjet", "xmma", "cutlass", "cublas", "sm90_")):
        return "matmul"
    if n.startswith("triton"):
        return "fused (triton)"
    if "memcpy" in n or "copy" in n:
        return "copies"
    return "element-wise (aten)"


def profile(args) -> None:
    """Kernel time of one 480p forward, eager and compiled, by class and by kernel."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as tprofile

    from .devices import Prompts, make_plan
    from .dit import SpeedOptions, set_speed_options

    dev, dit, x, t, ctx = one_forward_inputs(args)
    for mode in args.profile_modes.split(","):
        set_speed_options(SpeedOptions(compile=mode.startswith("compiled"), attention=args.attention,
                                       tune=mode == "compiled-tuned"))
        plan = make_plan("gpu" if dev.type == "cuda" else "cpu", [dev], torch.bfloat16)
        den = plan.denoiser(dit, Prompts(ctx, None), 1)
        tw, _ = median_time(lambda d=den: d(x, t), dev, 2, 1)
        acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == "cuda" else [])
        with tprofile(activities=acts) as prof:
            den(x, t)
            _sync(dev)
        classes: dict[str, float] = {}
        kernels = []
        for e in prof.key_averages():
            dt = getattr(e, "device_time_total", None) or getattr(e, "cuda_time_total", 0)
            if e.device_type is not None and "CUDA" in str(e.device_type) and dt > 0:
                c = _kernel_class(e.key)
                classes[c] = classes.get(c, 0.0) + dt / 1e6
                kernels.append((dt / 1e6, e.count, c, e.key[:110]))
        tot = sum(classes.values())
        print(f"== {mode}: forward {tw:.3f} s (timed), kernels {tot:.3f} s", flush=True)
        for c, v in sorted(classes.items(), key=lambda kv: -kv[1]):
            print(f"   {c:<22} {v:7.3f} s  {v / tot:6.1%}", flush=True)
        for dt, n, c, k in sorted(kernels, reverse=True)[:args.profile_top]:
            print(f"   {dt * 1e3:9.1f} ms {n:5d}x  {c:<20} {k}", flush=True)
    # attention layouts: what our forward hands SDPA (transposed views) vs contiguous [B, H, L, D]
    if dev.type == "cuda":
        from torch.nn.attention import SDPBackend, sdpa_kernel

        H = dit.blocks[0].self_attn.num_heads
        L, D = x.shape[2] * (x.shape[3] // 2) * (x.shape[4] // 2), dit.dim // H
        qs = [torch.randn(1, L, H, D, device=dev, dtype=torch.bfloat16) for _ in range(3)]
        views = [q.transpose(1, 2) for q in qs]
        conts = [v.contiguous() for v in views]
        ks = [torch.randn(1, 512, H, D, device=dev, dtype=torch.bfloat16).transpose(1, 2) for _ in range(2)]
        for name, be in (("cudnn", SDPBackend.CUDNN_ATTENTION), ("flash", SDPBackend.FLASH_ATTENTION),
                         ("efficient", SDPBackend.EFFICIENT_ATTENTION)):
            try:
                with sdpa_kernel([be]):
                    tm, _ = median_time(lambda: torch.nn.functional.scaled_dot_product_attention(views[0], *ks),
                                        dev, 10, 2)
                print(f"   cross-attention (512 text keys) {name:<9} {tm * 1e3:6.2f} ms/layer", flush=True)
            except RuntimeError as e:
                print(f"   cross-attention {name}: {str(e)[:80]}")
        for name, be in (("cudnn", SDPBackend.CUDNN_ATTENTION), ("flash", SDPBackend.FLASH_ATTENTION)):
            for lay, (q, k, v) in (("BLHD views", views), ("BHLD contiguous", conts)):
                with sdpa_kernel([be]):
                    tm, _ = median_time(lambda q=q, k=k, v=v: torch.nn.functional.scaled_dot_product_attention(q, k, v),
                                        dev, 5, 2)
                print(f"   SDPA {name:<6} {lay:<16} {tm * 1e3:6.1f} ms/layer = {4 * L * L * H * D / tm / 1e12:.0f} "
                      f"TFLOP/s", flush=True)


# ---- loader RAM ------------------------------------------------------------------------------------------
def write_random_shards(root: Path, config: DiTConfig, dtype: torch.dtype, n_shards: int, device: torch.device) -> int:
    """Random weights in the official layout (config.json, index, n shards), one shard in RAM at a time."""
    from safetensors.torch import save_file

    from .demo_model import _write_config
    from .model_files import DIT_INDEX_FILE

    root.mkdir(parents=True, exist_ok=True)
    _write_config(root, config)
    shapes = {k: tuple(v.shape) for k, v in build_dit(config, "meta").state_dict().items()}
    keys = sorted(shapes)
    sizes = [math.prod(shapes[k]) for k in keys]
    target = sum(sizes) / n_shards
    groups, cur, acc = [], [], 0
    for k, n in zip(keys, sizes, strict=True):
        cur.append(k)
        acc += n
        if acc >= target and len(groups) < n_shards - 1:
            groups.append(cur)
            cur, acc = [], 0
    groups.append(cur)
    weight_map, total = {}, 0
    g = torch.Generator(device).manual_seed(0)
    for i, group in enumerate(groups):
        name = f"diffusion_pytorch_model-{i + 1:05d}-of-{len(groups):05d}.safetensors"
        part = {k: torch.randn(shapes[k], generator=g, device=device, dtype=dtype).cpu() for k in group}
        save_file(part, str(root / name), metadata={"format": "pt"})
        for k, v in part.items():
            weight_map[k] = name
            total += v.numel() * v.element_size()
        del part
    (root / DIT_INDEX_FILE).write_text(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}))
    return total


_LOAD_CHILD = r"""
import resource, sys, time, json, torch, psutil, threading
from pathlib import Path
from pusa_engine.loader import load_dit
from pusa_engine.model_files import ModelFolder
dev = torch.device(sys.argv[2])
if dev.type == "cuda":
    torch.zeros(1, device=dev)
proc = psutil.Process()
base = proc.memory_info().rss
peak = [base]
stop = False
def watch():
    while not stop:
        peak[0] = max(peak[0], proc.memory_info().rss)
        time.sleep(0.02)
th = threading.Thread(target=watch, daemon=True); th.start()
t0 = time.perf_counter()
m = load_dit(ModelFolder(Path(sys.argv[1])), torch.bfloat16, dev)
if dev.type == "cuda":
    torch.cuda.synchronize()
t = time.perf_counter() - t0
stop = True; th.join()
params = sum(p.numel() for p in m.parameters())
print(json.dumps({"device": str(dev), "seconds": t, "params": params, "rss_base_gib": base / 2**30,
                  "rss_peak_gib": max(peak[0], proc.memory_info().rss) / 2**30,
                  "ru_maxrss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
                  "rss_end_gib": proc.memory_info().rss / 2**30}))
"""


def loader_ram(args) -> None:
    root = Path(args.loader_ram)
    config = TINY_DIT if args.tiny else WAN_14B_CONFIG
    if args.loader_config == "mid":
        config = DiTConfig(dim=2048, ffn_dim=5504, freq_dim=256, in_dim=16, out_dim=16, num_heads=16, num_layers=8,
                           eps=1e-6)
    dtype = torch.float32 if args.loader_fp32 else torch.bfloat16
    gen_dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not (root / "config.json").exists():
        t, total = timed(lambda: write_random_shards(root, config, dtype, 6, gen_dev), gen_dev)
        print(f"wrote {total / 1e9:.1f} GB of {str(dtype)} shards in {t:.0f} s", flush=True)
    targets = ["cpu"] + (["cuda:0"] if torch.cuda.is_available() else [])
    for target in targets:
        r = subprocess.run([sys.executable, "-c", _LOAD_CHILD, str(root), target], capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1]),
                                                                             os.environ.get("PYTHONPATH", "")])})
        if r.returncode:
            print(r.stderr[-3000:])
            continue
        res = json.loads(r.stdout.strip().splitlines()[-1])
        grow = res["rss_peak_gib"] - res["rss_base_gib"]
        print(f"load_dit -> {target}: {res['seconds']:.1f} s, {res['params'] / 1e9:.2f} B params; RSS base "
              f"{res['rss_base_gib']:.2f} GiB, peak {res['rss_peak_gib']:.2f} GiB (+{grow:.2f}), end "
              f"{res['rss_end_gib']:.2f}; ru_maxrss {res['ru_maxrss_gib']:.2f} GiB; growth per parameter "
              f"{grow * 2**30 / res['params']:.2f} bytes", flush=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m pusa_engine.bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda:0" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--size", choices=["480p", "720p", "both"], default="both")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--cfg", type=float, default=3.0)
    ap.add_argument("--reps", type=int, default=3, help="timed forwards per variant (median)")
    ap.add_argument("--tune", action="store_true", help="compiled mode tunes inductor's kernels (slower compile)")
    ap.add_argument("--compile", choices=["auto", "on", "off"], default="auto",
                    help="auto: time eager and compiled forwards and run the jobs with the faster")
    ap.add_argument("--attention", default="auto", help="SDPA backend: auto | cudnn | flash | efficient | math")
    ap.add_argument("--tiny", action="store_true", help="tiny model (smoke test of every code path)")
    ap.add_argument("--float32", action="store_true")
    ap.add_argument("--no-diffsynth", action="store_true")
    ap.add_argument("--no-plans", action="store_true")
    ap.add_argument("--check-frames", type=int, default=5, help="latent frames for the plan checks")
    ap.add_argument("--budget-s", type=float, default=0, help="skip remaining stages after this many seconds")
    ap.add_argument("--json", help="write every number here")
    ap.add_argument("--two-gpu", action="store_true", help="one GPU vs two (issue 6)")
    ap.add_argument("--devices", default="cuda:0,cuda:1", help="the two devices of --two-gpu (cpu,cpu: smoke test)")
    ap.add_argument("--loader-ram", metavar="DIR", help="write random shards to DIR and measure load_dit's RAM")
    ap.add_argument("--loader-config", choices=["14b", "mid"], default="14b")
    ap.add_argument("--loader-fp32", action="store_true", help="write fp32 shards (as on the hub)")
    ap.add_argument("--profile", action="store_true", help="kernel-time breakdown of one 480p forward")
    ap.add_argument("--profile-modes", default="eager,compiled", help="eager, compiled, compiled-tuned")
    ap.add_argument("--profile-top", type=int, default=18)
    ap.add_argument("--offload", action="store_true", help="the block-streaming plan's forward at 480p")
    args = ap.parse_args(argv)
    torch.set_grad_enabled(False)
    if args.loader_ram:
        loader_ram(args)
        return
    if args.profile:
        profile(args)
        return
    if args.offload:
        offload(args)
        return
    if args.two_gpu:
        two_gpu(args)
        return
    Bench(args).run()


if __name__ == "__main__":
    main()
