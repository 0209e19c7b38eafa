"""The Python API: load a model folder + Pusa LoRA once, then run requests, reporting as they go.

    engine = Engine("Wan2.1-T2V-14B", "pusa_v1.pt")
    engine.load()
    result = engine.generate(GenerationRequest(prompt="..."), "out.mp4", on_event=print)
"""

from __future__ import annotations

import gc
import platform
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np
import torch

from . import __version__
from .atomic_files import OutputUnit, check_outputs, remove_stale_temps
from .devices import DevicePlan, Prompts, available_plans, choose_plan
from .dit import embed_context, get_speed_options
from .dit_set import DiTSet, LoraUse
from .errors import InputMediaError, ModelFilesError, OutOfMemoryError
from .events import CancelToken, EventCallback, JobResult, Phase, PhaseProgress, StepProgress
from .families import detect_family
from .free_memory import device_words, free_bytes
from .job_speed import CompileNotice, job_speed
from .loader import load_text_encoder, load_tokenizer, load_vae
from .media import (
    fit_image,
    image_to_array,
    read_image,
    read_video_frames,
    write_json_atomic,
    write_png_frames,
)
from .model_files import ModelFolder
from .mp4_stream import Mp4Stream
from .request import GenerationRequest, SizeLimit, slot_of_pixel_frame
from .sampler import Conditioning, SampleResult, StepInfo, sample
from .schedules import ShiftedSchedule
from .traces import save_trace
from .vae_ops import LatentPreview, decode_latents, encode_video
from .vae_speed import DECODER_OPTIMIZING, decoder_compiles, speed_up_decoder
from .validation import lora_path_or_none, pusa_lora_paths, validate_model_files

__all__ = ["Engine", "available_plans", "save_trace"]


def _noop(_event) -> None:
    pass


class Engine:
    def __init__(self, model_dir: str | Path, lora_path: str | Path | None, plan: str = "auto",
                 lora_low: str | Path | None = None, experts: str = "auto"):
        """`lora_path`: the Pusa LoRA (Wan2.2: the high-noise expert's; `lora_low` the low-noise one's).
        `experts` (Wan2.2): "resident", "swap", or "auto" to let the GPUs' free memory decide."""
        self.folder = ModelFolder(Path(model_dir))
        self.family = detect_family(self.folder.root)
        self.lora_path = lora_path_or_none(lora_path)
        self.lora_low = lora_path_or_none(lora_low)
        self.pusa_loras = pusa_lora_paths(self.family, self.lora_path, self.lora_low)
        self.experts_mode = experts
        self.plan: DevicePlan = choose_plan(plan, self.family.dit_bytes)
        self.loaded = False
        self._prompt_cache: dict[str, torch.Tensor] = {}
        self._decode_rate: float | None = None  # seconds per latent voxel (F*h*w), measured on the last decode

    @property
    def plan_description(self) -> str:
        return self.plan.describe()

    # ---- loading -------------------------------------------------------------------------------
    def load(self, on_event: EventCallback | None = None, cancel: CancelToken | None = None) -> None:
        """Validate the files (all problems at once), then load every model onto its device."""
        emit = on_event or _noop
        problems = validate_model_files(self.folder.root, self.lora_path, self.lora_low)
        if problems:
            raise ModelFilesError(problems)
        plan = self.plan

        def stage(done: int, message: str) -> None:
            if cancel is not None:
                cancel.raise_if_cancelled()
            emit(PhaseProgress(Phase.LOADING, done, 5, message))

        stage(0, "tokenizer")
        self.tokenizer = load_tokenizer(self.folder)
        stage(1, "DiT")
        # every expert placed by the plan (offload: blocks in pinned memory; memory split: over two GPUs; Wan2.2
        # on a GPU too small for both experts: swapped), each Pusa LoRA merged at its default alpha
        self.dits = DiTSet(self.family, self.folder, plan, self.pusa_loras, self.experts_mode)
        self.dits.load(progress=lambda d, t, m: emit(PhaseProgress(Phase.LOADING, 1, 5, f"{m} ({d}/{t})")))
        self.dit = self.dits.first
        stage(2, "Pusa LoRA")
        stage(3, "text encoder")
        # streamed to its GPU when the plan keeps it there (decided by now), else memory-mapped on the CPU and
        # lent to its GPU while encoding
        self.text_encoder = load_text_encoder(self.folder, plan.dtype, plan.text_home)
        stage(4, "VAE")
        self.vae = load_vae(self.folder, plan.dtype, plan.vae_device)
        self.preview = LatentPreview.fit(self.vae)
        emit(PhaseProgress(Phase.LOADING, 5, 5, "ready"))
        self.loaded = True

    def close(self) -> None:
        for name in ("dit", "dits", "text_encoder", "vae", "preview"):
            self.__dict__.pop(name, None)
        self._prompt_cache.clear()
        self.loaded = False
        _free_memory()

    def set_lora_alpha(self, alpha: float, alpha_low: float | None = None) -> None:
        """W = W_base + alpha * (B @ A) for each expert's Pusa LoRA, recomputed in place; no reload."""
        self.set_loras(GenerationRequest(prompt="", lora_alpha=alpha,
                                         lora_alpha_low=alpha if alpha_low is None else alpha_low))

    def set_loras(self, req: GenerationRequest) -> list[LoraUse]:
        """The request's whole stack merged (Pusa LoRAs at their alphas, then its LoRAs): only changed
        weights are written, from their base copies; extra LoRA files load on first use."""
        alphas = dict(zip(self.family.expert_names, (req.lora_alpha, req.lora_alpha_low), strict=False))
        uses = self.dits.uses(alphas, req.loras)
        self.dits.apply(uses)
        return uses

    # ---- the parts of a job ----------------------------------------------------------------------
    def encode_prompt(self, prompt: str) -> torch.Tensor:
        """T5 embedding [1, 512, text_dim] on the CPU, cached by prompt for the session."""
        if prompt not in self._prompt_cache:
            device = self.plan.text_device
            ids, mask = self.tokenizer(prompt, return_mask=True, add_special_tokens=True)
            with torch.no_grad(), self._text_encoder_on(device):
                emb = self.text_encoder(ids.to(device), mask.to(device))
            emb[:, int(mask.sum()):] = 0
            self._prompt_cache[prompt] = emb.cpu()
        return self._prompt_cache[prompt]

    @contextmanager
    def _text_encoder_on(self, device: torch.device) -> Iterator[None]:
        # the plan keeps it resident when memory allows, else drops the GPU copy (no copy back)
        with self.plan.text_encoder_on(self.text_encoder, device):
            yield

    def encode_conditioning(self, req: GenerationRequest, emit: EventCallback,
                            cancel: CancelToken | None) -> list[Conditioning]:
        """Each keyframe image as a 1-frame clip; video frames (from the clip's in point) as one clip sliced
        into their slots (from its start slot)."""
        dtype, device = self.plan.dtype, self.plan.vae_device
        conds: list[Conditioning] = []
        total = len(req.keyframes) + (1 if req.video else 0)
        for i, kf in enumerate(req.keyframes):
            emit(PhaseProgress(Phase.ENCODING_FRAMES, i, total, Path(kf.image).name))
            pixels = _pixels([fit_image(read_image(kf.image), req.width, req.height, req.fit)])
            z = encode_video(self.vae, pixels.to(device, dtype), cancel=cancel)
            conds.append(Conditioning(slot_of_pixel_frame(kf.frame), z[:, :, 0].to(self.plan.state_device), kf.noise))
        if req.video is not None:
            v = req.video
            emit(PhaseProgress(Phase.ENCODING_FRAMES, len(req.keyframes), total, Path(v.video).name))
            needed = v.frames_needed()  # the clip from its in point feeds the slots from its start slot on
            frames = read_video_frames(v.video, needed)
            if len(frames) < needed:
                raise InputMediaError(
                    f"{v.video} has {len(frames)} frames, but slot {max(v.slots)} needs frames up to {needed - 1}: "
                    "choose earlier slots, an earlier in point or a longer video")
            pixels = _pixels([fit_image(f, req.width, req.height, req.fit) for f in frames[v.in_frame:]])
            z = encode_video(self.vae, pixels.to(device, dtype), cancel=cancel,
                             progress=lambda d, t: emit(PhaseProgress(Phase.ENCODING_FRAMES, len(req.keyframes), total,
                                                                      f"{Path(v.video).name} chunk {d}/{t}")))
            for slot, m in zip(v.slots, v.noise, strict=True):  # slot start_slot + i takes the clip's latent i
                conds.append(Conditioning(slot, z[:, :, slot - v.start_slot].to(self.plan.state_device), m))
        emit(PhaseProgress(Phase.ENCODING_FRAMES, total, total, ""))
        return conds

    def make_noise(self, req: GenerationRequest) -> torch.Tensor:
        """Drawn on the CPU from the seed, so a seed gives the same video on any device."""
        shape = self.family.geometry.latent_shape(req.width, req.height, req.frames)
        gen = torch.Generator("cpu").manual_seed(req.seed)
        return torch.randn(shape, generator=gen, dtype=torch.float32).to(self.plan.state_device)

    def text_embeddings(self, req: GenerationRequest, emit: EventCallback) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The text encoder's output for the prompt (and the negative prompt with CFG), on the DiT's device;
        each expert embeds them with its own text MLP (`prompts`)."""
        wanted = [req.prompt] + ([req.negative_prompt] if req.cfg != 1 else [])
        embs = []
        new = any(text not in self._prompt_cache for text in wanted)
        with self._text_encoder_on(self.plan.text_device) if new else nullcontext():  # one loan for all prompts
            for i, text in enumerate(wanted):
                emit(PhaseProgress(Phase.ENCODING_TEXT, i, len(wanted), "" if text not in self._prompt_cache
                                   else "cached"))
                embs.append(self.encode_prompt(text).to(self.plan.dit_devices[0], self.plan.dtype))
        emit(PhaseProgress(Phase.ENCODING_TEXT, len(wanted), len(wanted), ""))
        return embs[0], embs[1] if len(embs) > 1 else None

    def prompts(self, req: GenerationRequest, emit: EventCallback) -> Prompts:
        """The first DiT's text embeddings of the request (Wan2.1's only DiT)."""
        pos, neg = self.text_embeddings(req, emit)
        with torch.no_grad():
            return Prompts(embed_context(self.dit, pos), embed_context(self.dit, neg) if neg is not None else None)

    # ---- a whole job ---------------------------------------------------------------------------
    def run(self, request: GenerationRequest, on_event: EventCallback | None = None,
            cancel: CancelToken | None = None, on_frames: Callable[[np.ndarray], None] | None = None,
            ) -> tuple[GenerationRequest, SampleResult, np.ndarray]:
        """Sample and decode without writing anything: (request with its seed, latents+trace, uint8 video).
        `on_frames` gets the pixel frames as the decode makes them."""
        if not self.loaded:
            self.load(on_event, cancel)
        emit = on_event or _noop
        request.validate(self.size_limit(), self.family.expert_names if self.family.has_experts else ("",))
        req = request.with_seed()
        try:
            with torch.no_grad():
                self._stack = self.set_loras(req)
                positive, negative = self.text_embeddings(req, emit)
                conds = self.encode_conditioning(req, emit, cancel)
                noise = self.make_noise(req)
                self.plan.speed = speed = job_speed(req)  # the process's options, FP8 when the request asks
                denoise = self.dits.denoiser(req.cfg, positive, negative, req.boundary)
                steps = self._step_reporter(emit, req)
                notice = CompileNotice(self.plan, req, tuple(noise.shape), speed)
                notice.announce(emit)  # "optimizing for this size" when this job compiles
                result = sample(denoise, noise, conds, ShiftedSchedule(req.steps, req.shift), self.plan.dtype,
                                on_step=notice.wrap(steps), cancel=cancel)
                experts = denoise.trace() if self.family.has_experts else None
                del positive, negative, conds, noise, denoise
                video = self._decode(req, result.latents, emit, cancel, steps.seconds_per_step, on_frames)
            return req, SampleResult(result.latents.cpu(), result.timesteps, experts), video
        except torch.cuda.OutOfMemoryError as e:
            raise OutOfMemoryError(
                f"the GPU ran out of memory at {req.width}x{req.height}, {req.frames} frames: "
                "try fewer frames or a smaller resolution, or close other programs using the GPU") from e
        finally:
            # release the job's GPU memory; no gc.collect here: a full collection with torch loaded
            # holds the GIL for ~0.3 s, which a GUI thread would feel at the end of every job
            if torch.cuda.is_available():
                torch.cuda.empty_cache()

    def generate(self, request: GenerationRequest, out_path: str | Path, on_event: EventCallback | None = None,
                 cancel: CancelToken | None = None, trace_path: str | Path | None = None) -> JobResult:
        """Run a request and write the MP4, its JSON sidecar, PNG frames (if asked) and trace as one unit.

        The output paths are checked before the job runs; everything is written to temporaries and
        renamed into place only when all of it succeeded, the sidecar last (see atomic_files.OutputUnit).
        """
        start = time.perf_counter()
        emit = on_event or _noop
        out_path = Path(out_path)
        png_dir = out_path.with_suffix("") if request.save_png_frames else None
        trace = Path(trace_path) if trace_path is not None else None
        check_outputs(out_path, png_dir=png_dir, trace=trace)
        for folder in {out_path.parent, *([trace.parent] if trace else [])}:
            remove_stale_temps(folder)
        unit = OutputUnit(out_path)
        mp4 = Mp4Stream(unit.temp_for(out_path), request.fps)  # encoded while the decode runs
        try:
            req, result, video = self.run(request, on_event, cancel, on_frames=mp4.write)
        except BaseException:
            mp4.abort()
            raise
        parts = 2 + (png_dir is not None) + (trace is not None)
        emit(PhaseProgress(Phase.WRITING, 0, parts, out_path.name))
        with unit:
            mp4.close()
            emit(PhaseProgress(Phase.WRITING, 1, parts, out_path.name))
            if png_dir is not None:
                write_png_frames(video, unit.temp_for(png_dir))
                emit(PhaseProgress(Phase.WRITING, 2, parts, png_dir.name))
            if trace is not None:
                save_trace(result, unit.temp_for(trace))
                emit(PhaseProgress(Phase.WRITING, parts - 1, parts, trace.name))
            seconds = time.perf_counter() - start
            settings = self.sidecar(req, seconds)
            write_json_atomic(settings, unit.temp_for(unit.sidecar))
        emit(PhaseProgress(Phase.WRITING, parts, parts, out_path.name))
        return JobResult(str(out_path), str(unit.sidecar), req.seed, video.shape[0], req.fps, seconds,
                         str(png_dir) if png_dir is not None else None, settings)

    def sidecar(self, req: GenerationRequest, seconds: float) -> dict:
        """Everything needed to regenerate the same video."""
        import diffsynth

        files = {"model_dir": str(self.folder.root.resolve()),
                 "lora": str(self.lora_path.resolve()) if self.lora_path else None}
        if self.lora_low is not None:
            files["lora_low"] = str(self.lora_low.resolve())
        return {
            "request": req.to_dict(),
            "family": self.family.name,
            "lora_stack": self.dits.record(getattr(self, "_stack", [])),
            "seed": req.seed,
            "slot_mapping": [m.__dict__ for m in req.slot_mapping()],
            "model_files": files,
            "engine": {"pusa_engine": __version__, "diffsynth": getattr(diffsynth, "__version__", "2.1.12"),
                       "torch": str(torch.__version__), "python": platform.python_version(),
                       "plan": self.plan_description},
            "seconds": round(seconds, 3),
        }

    # ---- memory and time estimates ----------------------------------------------------------------
    def size_limit(self) -> SizeLimit:
        """The largest job this machine can run now, from the free memory where the DiT and VAE work."""
        dit_dev, vae_dev = self.plan.dit_devices[0], self.plan.vae_device
        elem = torch.finfo(self.plan.dtype).bits // 8
        dim, ffn_dim = self.dit.dim, self.dit.blocks[0].ffn[0].out_features
        # the residual stream, q/k/v and their rotated float32 copies, attention and cross-attention
        # outputs, and the FFN's hidden layer before and after its activation, per token (SDPA is linear)
        per_token = (12 * dim + 2 * ffn_dim) * elem + 4 * dim * 4
        # the decoder's full-resolution stage: its channels over 4 frames, ~16 live buffers (measured:
        # 21 KB per pixel for the real VAE in float32 on the CPU)
        per_pixel = self.vae.model.dim * 4 * elem * 16 + 3 * 4
        dit_free, vae_free = free_bytes(dit_dev), free_bytes(vae_dev)
        where = device_words(dit_dev, dit_free)
        return SizeLimit(max_tokens=max(1, int(0.8 * dit_free / per_token)),
                         max_pixels=max(256, int(0.8 * vae_free / per_pixel)), where=where)

    def estimate_decode_seconds(self, req: GenerationRequest, seconds_per_step: float) -> float:
        """The VAE decode of this request: the rate measured on this engine's last decode, else one step."""
        if self._decode_rate is None:
            return seconds_per_step
        _, _, frames, h, w = self.family.geometry.latent_shape(req.width, req.height, req.frames)
        return self._decode_rate * frames * h * w

    def _decode(self, req: GenerationRequest, latents: torch.Tensor, emit: EventCallback,
                cancel: CancelToken | None, seconds_per_step: float,
                on_frames: Callable[[np.ndarray], None] | None = None) -> np.ndarray:
        total = latents.shape[2]
        estimate = self.estimate_decode_seconds(req, seconds_per_step)
        speed_up_decoder(self.vae, (self.plan.speed or get_speed_options()).compile)
        compiles = decoder_compiles(self.vae, latents)  # the first decode at a size compiles the norms
        words = DECODER_OPTIMIZING if compiles else ""
        start = time.perf_counter()
        first = [0.0]  # when the first chunk (one pixel frame, cheaper than the rest) finished

        def progress(done: int, _total: int) -> None:
            elapsed = time.perf_counter() - start
            if done == 1:
                first[0] = elapsed
            if done >= 2:
                eta = (elapsed - first[0]) / (done - 1) * (total - done)
            else:
                eta = max(estimate - elapsed, elapsed * (total - done))
            emit(PhaseProgress(Phase.DECODING, done, total, words if done < 2 else "", eta_seconds=eta))

        emit(PhaseProgress(Phase.DECODING, 0, total, words, eta_seconds=estimate))
        video = decode_latents(self.vae, latents, cancel=cancel, progress=progress, on_frames=on_frames)
        if not compiles:  # a decode that compiled says nothing about the next one's speed
            self._decode_rate = (time.perf_counter() - start) / (total * latents.shape[3] * latents.shape[4])
        return video

    def _step_reporter(self, emit: EventCallback, req: GenerationRequest) -> _StepReporter:
        return _StepReporter(self, emit, req)


class _StepReporter:
    """StepProgress per step; its ETA covers the remaining steps and the VAE decode after them."""

    def __init__(self, engine: Engine, emit: EventCallback, req: GenerationRequest) -> None:
        self.engine, self.emit, self.req = engine, emit, req
        self.started = self.last = time.perf_counter()
        self.seconds_per_step = 0.0

    def __call__(self, info: StepInfo) -> None:
        preview = self.engine.preview(info.clean_estimate())  # copying it to the host waits for the step
        now = time.perf_counter()
        this, self.last = now - self.last, now
        self.seconds_per_step = (now - self.started) / (info.index + 1)
        eta = self.seconds_per_step * (info.total - info.index - 1) + \
            self.engine.estimate_decode_seconds(self.req, self.seconds_per_step)
        self.emit(StepProgress(info.index + 1, info.total, this, self.seconds_per_step, eta,
                               info.timesteps.tolist(), preview))


def _pixels(images) -> torch.Tensor:
    """PIL images -> [1, 3, T, H, W] float32 in [-1, 1]."""
    arr = np.stack([image_to_array(im) for im in images])  # [T, H, W, 3]
    return torch.from_numpy(arr).permute(3, 0, 1, 2).unsqueeze(0)


def _free_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()

