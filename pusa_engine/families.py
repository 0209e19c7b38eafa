"""Model families: one description per released model that Pusa runs on (Wan2.1-T2V-14B, Wan2.2-T2V-A14B).

Each family says where its files are, which DiTs ("experts") it has and when each runs, its latent
geometry, the defaults a user starts from, and where its Pusa LoRAs come from. The request checks, the
loader, the validator, the plans, the command line and the app all read it from here. Pure Python (the
desktop imports it to tell the families apart without loading torch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LatentGeometry:
    """How pixels map to latents and tokens (Wan's 16-channel VAE and its 1x2x2 DiT patch)."""

    channels: int = 16
    spatial: int = 8  # pixels per latent, each side
    temporal: int = 4  # pixel frames per latent frame after the first
    patch: tuple[int, int, int] = (1, 2, 2)

    @property
    def pixel_multiple(self) -> int:
        """Width and height must be multiples of this (one token is this many pixels square)."""
        return self.spatial * self.patch[1]

    def latent_frames(self, pixel_frames: int) -> int:
        return (pixel_frames - 1) // self.temporal + 1

    def valid_frames(self, pixel_frames: int) -> bool:
        return pixel_frames >= 1 and (pixel_frames - 1) % self.temporal == 0

    def latent_shape(self, width: int, height: int, frames: int) -> tuple[int, int, int, int, int]:
        return (1, self.channels, self.latent_frames(frames), height // self.spatial, width // self.spatial)

    def tokens(self, width: int, height: int, frames: int) -> int:
        pf, ph, pw = self.patch
        return (self.latent_frames(frames) // pf) * (height // (self.spatial * ph)) * (width // (self.spatial * pw))

    def slot_of_pixel_frame(self, pixel_frame: int) -> int:
        return math.ceil(pixel_frame / self.temporal)


WAN_GEOMETRY = LatentGeometry()


@dataclass(frozen=True)
class Expert:
    """One DiT of a family: its name, its folder inside the model folder ("" = the folder itself), and the
    command-line words for its Pusa LoRA."""

    name: str  # "dit" for a one-DiT family; "high" / "low" for Wan2.2's noise experts
    subfolder: str
    title: str  # in messages: "the DiT", "the high-noise expert"


@dataclass(frozen=True)
class FamilyDefaults:
    width: int
    height: int
    frames: int
    steps: int
    cfg: float
    fps: int
    lora_alpha: float  # every Pusa LoRA's default alpha


@dataclass(frozen=True)
class ModelFamily:
    name: str  # "wan2.1" | "wan2.2"
    title: str  # "Wan2.1-T2V-14B"
    experts: tuple[Expert, ...]
    defaults: FamilyDefaults
    model_source: str  # where users download the model folder
    lora_source: str  # where the Pusa LoRAs come from
    lora_files: tuple[str, ...]  # the released Pusa LoRA file names, one per expert
    boundary: float | None = None  # the high-noise expert runs while the base timestep >= 1000 * boundary
    geometry: LatentGeometry = WAN_GEOMETRY
    dit_bytes: int = 14_288_491_584 * 2  # one expert in bf16 (Wan2.1-T2V-14B's DiT)
    work_bytes: int = 8 * 2**30  # a job at the default size besides the weights (activations, VAE decode)

    @property
    def expert_names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.experts)

    @property
    def has_experts(self) -> bool:
        return len(self.experts) > 1

    def expert(self, name: str) -> Expert:
        for e in self.experts:
            if e.name == name:
                return e
        raise KeyError(name)


WAN21 = ModelFamily(
    name="wan2.1", title="Wan2.1-T2V-14B",
    experts=(Expert("dit", "", "the DiT"),),
    defaults=FamilyDefaults(width=832, height=480, frames=81, steps=10, cfg=3.0, fps=16, lora_alpha=1.4),
    model_source="Hugging Face Wan-AI/Wan2.1-T2V-14B",
    lora_source="Hugging Face RaphaelLiu/PusaV1",
    lora_files=("pusa_v1.pt",),
)
WAN22 = ModelFamily(
    name="wan2.2", title="Wan2.2-T2V-A14B",
    experts=(Expert("high", "high_noise_model", "the high-noise expert"),
             Expert("low", "low_noise_model", "the low-noise expert")),
    defaults=FamilyDefaults(width=1280, height=720, frames=81, steps=10, cfg=3.0, fps=24, lora_alpha=1.4),
    model_source="Hugging Face Wan-AI/Wan2.2-T2V-A14B",
    lora_source="Hugging Face RaphaelLiu/Pusa-Wan2.2-V1",
    lora_files=("high_noise_pusa.safetensors", "low_noise_pusa.safetensors"),
    boundary=0.875,
    work_bytes=24 * 2**30,  # 720p, 81 frames: 75,600 tokens
)
# Where the step-distillation LoRAs of the four-step mode come from (spec section 7b).
EXTRA_LORA_SOURCE = "its publisher (LightX2V: Hugging Face lightx2v/Wan2.2-Lightning)"
FAMILIES: dict[str, ModelFamily] = {f.name: f for f in (WAN21, WAN22)}


def family_named(name: str) -> ModelFamily:
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown model family {name!r}; one of {', '.join(FAMILIES)}") from None


def detect_family(model_dir: str | Path) -> ModelFamily:
    """The family of a model folder, from its layout alone: Wan2.2-A14B has a folder per expert.

    Anything else (including a missing or broken folder) is taken as Wan2.1, whose checks then say what is wrong.
    """
    root = Path(model_dir)
    if all((root / e.subfolder).is_dir() for e in WAN22.experts):
        return WAN22
    return WAN21
