"""Check a model folder and LoRA from file headers alone, reporting every problem at once."""

from __future__ import annotations

from pathlib import Path

from .errors import ModelFilesError
from .file_headers import Shapes, safetensors_shapes, torch_file_shapes
from .lora import lora_problems
from .model_files import DEFAULT_TEXT_DIM, ModelFolder
from .networks import (
    T5Dims,
    VAEDims,
    build_dit,
    build_text_encoder,
    build_vae_network,
    expected_shapes,
    linear_shapes,
)


def validate_model_files(model_dir: str | Path, lora_path: str | Path | None) -> list[str]:
    """Every problem found, in words a user can act on; an empty list means the files look loadable."""
    folder = ModelFolder(Path(model_dir))
    if not folder.root.is_dir():
        return [f"model folder {folder.root} does not exist: choose the Wan2.1-T2V-14B folder in Settings"]
    problems: list[str] = []
    dit_shapes = _collect(problems, lambda: dit_file_shapes(folder))
    text_dim = dit_shapes.get("text_embedding.0.weight", (0, DEFAULT_TEXT_DIM))[1] if dit_shapes else DEFAULT_TEXT_DIM
    dit = None
    try:
        dit = build_dit(folder.dit_config(text_dim))
    except ModelFilesError as e:
        problems.extend(e.problems)
    if dit is not None and dit_shapes:
        problems.extend(compare_shapes("the DiT shards", expected_shapes(dit), dit_shapes))
    t5_shapes = _collect(problems, lambda: torch_file_shapes(folder.t5_path))
    if t5_shapes:
        problems.extend(_t5_problems(folder, t5_shapes, text_dim))
    vae_shapes = _collect(problems, lambda: torch_file_shapes(folder.vae_path))
    if vae_shapes:
        problems.extend(_vae_problems(folder, vae_shapes))
    problems.extend(_tokenizer_problems(folder))
    if lora_path is not None:
        lora_path = Path(lora_path)
        lora_shapes = _collect(problems, lambda: (
            safetensors_shapes(lora_path) if lora_path.suffix == ".safetensors" else torch_file_shapes(lora_path)))
        if lora_shapes and dit is not None:
            problems.extend(lora_problems(lora_shapes, linear_shapes(dit), lora_path))
    return problems


def dit_file_shapes(folder: ModelFolder) -> Shapes:
    """All DiT tensors over all shards; checks that the index and the shards agree."""
    shapes: Shapes = {}
    problems: list[str] = []
    for shard, indexed_keys in folder.dit_shards().items():
        try:
            found = safetensors_shapes(folder.root / shard)
        except ModelFilesError as e:
            problems.extend(e.problems)
            continue
        missing = [k for k in indexed_keys if k not in found]
        if missing:
            problems.append(f"{folder.root / shard} lacks {len(missing)} tensors its index lists "
                            f"(e.g. {missing[0]}): download this shard again")
        shapes.update(found)
    if problems:
        raise ModelFilesError(problems)
    return shapes


def compare_shapes(what: str, expected: Shapes, found: Shapes) -> list[str]:
    problems = []
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    wrong = sorted(k for k in set(expected) & set(found) if tuple(expected[k]) != tuple(found[k]))
    if missing:
        problems.append(f"{what} lack {len(missing)} tensors (e.g. {', '.join(missing[:3])}): "
                        "a shard is missing or from another model")
    if extra:
        problems.append(f"{what} hold {len(extra)} tensors the model does not have (e.g. {', '.join(extra[:3])}): "
                        "is this the Wan2.1-T2V model folder?")
    for k in wrong[:5]:
        problems.append(f"{what}: {k} has shape {list(found[k])}, expected {list(expected[k])} for this config.json")
    if len(wrong) > 5:
        problems.append(f"{what}: {len(wrong) - 5} more tensors have the wrong shape")
    return problems


def _collect(problems: list[str], read):
    try:
        return read()
    except ModelFilesError as e:
        problems.extend(e.problems)
        return None


def _t5_problems(folder: ModelFolder, shapes: Shapes, text_dim: int) -> list[str]:
    try:
        dims = T5Dims.from_shapes(shapes)
    except (KeyError, ValueError):
        return [f"{folder.t5_path} is not the umt5-xxl encoder (its keys are not WanTextEncoder's): download it again"]
    problems = compare_shapes(str(folder.t5_path), expected_shapes(build_text_encoder(dims)), shapes)
    if dims.dim != text_dim:
        problems.append(f"{folder.t5_path} produces {dims.dim}-wide embeddings but the DiT expects {text_dim}: "
                        "the text encoder and DiT come from different models")
    return problems


def _vae_problems(folder: ModelFolder, shapes: Shapes) -> list[str]:
    try:
        dims = VAEDims.from_shapes(shapes)
    except (KeyError, ValueError):
        return [f"{folder.vae_path} is not a Wan2.1 VAE: download Wan2.1_VAE.pth again"]
    return compare_shapes(str(folder.vae_path), expected_shapes(build_vae_network(dims)), shapes)


def _tokenizer_problems(folder: ModelFolder) -> list[str]:
    tok = folder.tokenizer_dir
    if not tok.is_dir():
        return [f"tokenizer folder {tok} is missing: copy google/umt5-xxl from the Wan2.1-T2V-14B download"]
    if not any((tok / f).exists() for f in ("tokenizer.json", "spiece.model")):
        return [f"tokenizer folder {tok} has neither tokenizer.json nor spiece.model: copy it again"]
    return []
