"""The benchmark's job stages: our whole job and diffsynth's, their parts (text, decode, one step, the
text encoder's move), and the two-device plans checked against the one-device plan. Mixed into Bench."""

from __future__ import annotations

import time
import traceback

import torch

from .common import PROMPT, GiB, Size, median_time, peak_gib, reset_peak, sync, timed


class JobStages:
    def our_job(self, s: Size) -> None:
        """The reference workload through our sampler + one-GPU plan (keyframe at slot 0, m 0.2)."""
        from pusa_engine.sampler import Conditioning, sample
        from pusa_engine.vae_ops import LatentPreview, decode_latents, encode_video

        dev = self.device
        cfg = self.args.cfg
        shape = self.latent_shape(s)
        g = torch.Generator().manual_seed(0)
        image = (torch.rand(1, 3, 1, s.height, s.width, generator=g) * 2 - 1).to(dev, self.dtype)
        preview = LatentPreview(torch.randn(16, 3, generator=g) * 0.1, torch.zeros(3))
        phases = {}
        reset_peak([dev])
        t_job = time.perf_counter()
        sync(dev)
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
        sync(dev)
        prev[0] = time.perf_counter()
        result = sample(denoise, noise, conds, s.steps, 5.0, self.dtype, on_step=on_step)
        sync(dev)
        phases["denoise"] = time.perf_counter() - t0
        peak_denoise = peak_gib([dev])
        phases["decode"], video = timed(lambda: decode_latents(self.vae, result.latents), dev)
        sync(dev)
        total = time.perf_counter() - t_job
        peak = peak_gib([dev])
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

        from pusa_engine.request import WAN_NEGATIVE_PROMPT

        dev = self.device
        pipe = WanVideoPipeline(device=str(dev), torch_dtype=self.dtype)
        pipe.dit, pipe.vae, pipe.text_encoder, pipe.tokenizer = self.dit, self.vae, self.text_encoder, self.tokenizer
        reset_peak([dev])
        total, video = timed(lambda: pipe(prompt=PROMPT, negative_prompt=WAN_NEGATIVE_PROMPT, seed=0,
                                          height=s.height, width=s.width, num_frames=s.frames,
                                          cfg_scale=self.args.cfg, num_inference_steps=s.steps,
                                          progress_bar_cmd=lambda x: x), dev)
        self.results.setdefault("diffsynth_job", {})[s.name] = {"total": total, "peak_gib": peak_gib([dev]),
                                                                "frames": len(video)}

    def diffsynth_decode(self, z: torch.Tensor):
        """diffsynth's default decode: tiled, 30x52 latent tiles at a stride of 15x26."""
        return self.vae.decode(z.to(self.dtype), device=self.device, tiled=True, tile_size=(30, 52),
                               tile_stride=(15, 26))

    def warm_decoders(self, s: Size) -> None:
        """One untimed-in-the-job decode each of three latent frames (every chunk shape of the size): our
        decoder's norms compile here (vae_speed.py; one-time per size and machine, like the DiT's phases) and
        both decoders' cuDNN plans are built, so neither whole job pays a one-time cost."""
        from pusa_engine.vae_ops import decode_latents

        dev = self.device
        shape = list(self.latent_shape(s))
        shape[2] = 3
        z = torch.randn(shape, generator=torch.Generator().manual_seed(4)).to(dev)
        t_ours, _ = timed(lambda: decode_latents(self.vae, z), dev)
        t_ds, _ = timed(lambda: self.diffsynth_decode(z), dev)
        self.row(s.name, "decoder warm-up, 3 latent frames (one-time)", t_ours, t_ds,
                 note="ours: compiles the decoder's norms")

    def decodes(self, s: Size) -> None:
        """VAE decode alone: ours (chunked, bf16, untiled) vs diffsynth's default tiled decode."""
        from pusa_engine.vae_ops import decode_latents

        dev = self.device
        z = torch.randn(self.latent_shape(s), generator=torch.Generator().manual_seed(3)).to(dev)
        reset_peak([dev])
        t_ours, _ = timed(lambda: decode_latents(self.vae, z), dev)
        p_ours = peak_gib([dev]).get(str(dev))
        reset_peak([dev])
        t_ds, _ = timed(lambda: self.diffsynth_decode(z), dev)
        p_ds = peak_gib([dev]).get(str(dev))
        self.results.setdefault("decode", {})[s.name] = {"ours": t_ours, "diffsynth_tiled": t_ds,
                                                         "peak_ours": p_ours, "peak_diffsynth": p_ds}

    def text_encoder_move(self) -> None:
        """What the engine pays per new prompt for releasing the encoder: CPU -> GPU -> CPU."""
        if self.device.type != "cuda":
            return
        from pusa_engine.plans import WeightsOnLoan

        loan = WeightsOnLoan(self.text_encoder)  # the engine's state: weights at home on the CPU
        t_on, _ = timed(lambda: loan.lend(self.device), self.device)
        t_off, _ = timed(loan.give_back, self.device)
        loan.lend(self.device)
        self.results["text_encoder_move_s"] = {"to_gpu": t_on, "release": t_off}
        self.row("all", "text encoder to GPU (from pageable CPU) / release", t_on, note=f"release {t_off:.3f} s")

    def text_alone(self) -> None:
        from pusa_engine.request import WAN_NEGATIVE_PROMPT

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
        from pusa_engine.plans import ReplicatedPlan, make_plan

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
        copies: dict = {}  # the DiT's copy on the second GPU, made once for all checks
        for kind, c in checks:
            try:
                plan = make_plan(kind, [dev, second], self.dtype)
                if isinstance(plan, ReplicatedPlan):
                    plan.use_replicas(self.dit, copies)
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
                plan.release()
            except Exception as e:  # noqa: BLE001
                traceback.print_exc()
                self.results["errors"].append(f"plan {kind}: {e}")

