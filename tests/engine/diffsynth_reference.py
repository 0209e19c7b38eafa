"""The peer check: diffsynth's own WanVideoPipeline on our engine's models, and the latents it decodes."""

from __future__ import annotations

import torch


def diffsynth_latents(engine, req, dit, dit2=None, **extra) -> torch.Tensor:
    """The latents diffsynth's pipeline hands its VAE for `req`, on `dit` (and `dit2`, Wan2.2's low-noise
    expert) with the engine's text encoder, VAE and tokenizer; `extra` goes to the pipeline call."""
    from diffsynth.pipelines.wan_video import WanVideoPipeline

    pipe = WanVideoPipeline(device="cpu", torch_dtype=torch.float32)
    pipe.dit, pipe.dit2 = dit, dit2
    pipe.text_encoder, pipe.vae, pipe.tokenizer = engine.text_encoder, engine.vae, engine.tokenizer
    captured = {}
    decode = pipe.vae.decode

    def capture(latents, *args, **kwargs):
        captured["latents"] = latents.clone()
        return decode(latents, *args, **kwargs)

    pipe.vae.decode = capture
    try:
        pipe(prompt=req.prompt, negative_prompt=req.negative_prompt, seed=req.seed, height=req.height,
             width=req.width, num_frames=req.frames, cfg_scale=req.cfg, num_inference_steps=req.steps,
             sigma_shift=req.shift, tiled=False, progress_bar_cmd=lambda x: x, **extra)
    finally:
        del pipe.vae.decode
    return captured["latents"]
