"""The main benchmark: our engine against stock diffsynth on the same device and weights, stage by stage."""

from __future__ import annotations

import json
import tempfile
import time
import traceback
from pathlib import Path

import torch

from pusa_engine.model_files import WAN_14B_CONFIG

from .common import (
    PROMPT,
    T5_XXL,
    TINY_DIT,
    TINY_T5,
    GiB,
    Size,
    env_info,
    fmt,
    free_memory,
    median_time,
    random_dit,
    random_text_encoder,
    random_vae,
    timed,
    tokenizer,
)
from .jobs import JobStages
from .report import Report


class Bench(JobStages, Report):
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
        print(f"[{time.perf_counter() - self.start:7.1f}s] {section:>6} | {what:<44} | ours {fmt(ours)} | "
              f"diffsynth {fmt(theirs)} {unit} {note}", flush=True)
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
            free_memory()

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
        from pusa_engine.plans import make_plan

        plan = plan or make_plan("gpu" if self.device.type == "cuda" else "cpu", [self.device], self.dtype)
        return plan.denoiser(self.dit, prompts, cfg)

    def prompts(self, with_negative=True):
        from pusa_engine.dit import embed_context
        from pusa_engine.plans import Prompts
        from pusa_engine.request import WAN_NEGATIVE_PROMPT

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

        from pusa_engine.dit import SpeedOptions, forward_flops_split, set_speed_options

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
        from pusa_engine.attention_kernels import chosen_kernels

        picks = {f"q{list(k[1])} k{list(k[2])}": v for k, v in chosen_kernels().items()}
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


    def run(self) -> None:
        self.build()
        self.stage("ceilings", self.ceilings)
        self.stage("text", self.text_alone)
        sizes = self.sizes()
        for s in sizes:
            self.stage(f"forwards {s.name}", lambda s=s: self.forwards(s))
            self.stage(f"decoder warm-up {s.name}", lambda s=s: self.warm_decoders(s))
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
