"""Check a model folder and LoRA from file headers alone, reporting every problem at once."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .errors import ModelFilesError
from .families import EXTRA_LORA_SOURCE, Expert, ModelFamily, detect_family
from .file_headers import Shapes, safetensors_shapes, torch_file_shapes, weight_file_shapes
from .lora import lora_problems
from .model_files import (
    DEFAULT_TEXT_DIM,
    WAN_SOURCE,
    ModelFolder,
    regular_file_problem,
    remote_code_problems,
)
from .networks import (
    T5Dims,
    VAEDims,
    build_dit,
    build_text_encoder,
    build_vae_network,
    expected_shapes,
)

LoraPath = str | os.PathLike[str] | None
# An extra LoRA of a stack (LightX2V): its file and the expert it merges into ("" = every expert).
ExtraLora = tuple[str | os.PathLike[str], str]


def lora_path_or_none(lora_path: LoraPath) -> Path | None:
    """An empty LoRA field ("" from the app, or blanks) means no LoRA, not the current folder."""
    if lora_path is None or (isinstance(lora_path, str) and not lora_path.strip()):
        return None
    return Path(lora_path)


def pusa_lora_paths(family: ModelFamily, lora_path: LoraPath, lora_low: LoraPath = None) -> dict[str, Path]:
    """The Pusa LoRA of each expert: Wan2.1's one DiT takes `lora_path`; Wan2.2's high-noise expert takes
    `lora_path` and its low-noise expert `lora_low`. An expert may have none (it then runs as released)."""
    high, low = lora_path_or_none(lora_path), lora_path_or_none(lora_low)
    if not family.has_experts:
        if low is not None:
            raise ModelFilesError(f"a low-noise LoRA ({low}) was given, but this is a {family.title} folder with one "
                                  "DiT: give its Pusa LoRA alone (--lora)")
        return {family.experts[0].name: high} if high is not None else {}
    return {name: path for name, path in zip(family.expert_names, (high, low), strict=True) if path is not None}


def extra_lora_targets(family: ModelFamily, expert: str) -> list[str]:
    """The experts an extra LoRA merges into ("" = all of them); ModelFilesError for an unknown name."""
    if not expert:
        return list(family.expert_names)
    if expert not in family.expert_names:
        raise ModelFilesError(f"a LoRA for the {expert!r} expert was given, but {family.title} has "
                              + (f"the experts {' and '.join(family.expert_names)}" if family.has_experts
                                 else "one DiT: give it without an expert"))
    return [expert]


def target_words(family: ModelFamily, expert: str) -> str:
    return family.title if not family.has_experts else f"{family.expert(expert).title} of {family.title}"


def validate_model_files(model_dir: str | Path, lora_path: LoraPath, lora_low: LoraPath = None,
                         extra_loras: list[ExtraLora] | tuple[ExtraLora, ...] = ()) -> list[str]:
    """Every problem found, in words a user can act on; an empty list means the files look loadable.

    The family is read off the folder's layout (`families.detect_family`); every DiT of it is checked, and
    every LoRA of the stack (the Pusa LoRA of each expert, then `extra_loras`) against the DiT it merges into.
    """
    folder = ModelFolder(Path(model_dir))
    if not folder.root.is_dir():
        if folder.root.exists():
            return [f"model folder {folder.root} is a file, not a folder: choose the Wan2.1-T2V-14B folder"]
        return [f"model folder {folder.root} does not exist: choose the Wan2.1-T2V-14B folder in Settings"]
    family = detect_family(folder.root)
    unsafe = [p for e in family.experts for p in remote_code_problems(folder.for_expert(e))]
    if unsafe:
        return list(dict.fromkeys(unsafe))  # nothing else in such a folder is worth reading
    problems: list[str] = []
    dits: dict[str, torch.nn.Module] = {}
    text_dim = None
    for expert in family.experts:
        dit, dim = _dit_problems(folder.for_expert(expert), family, expert, problems)
        text_dim = text_dim or dim
        if dit is not None:
            dits[expert.name] = dit
    t5_shapes = _collect(problems, lambda: torch_file_shapes(folder.t5_path, family.model_source, "the text encoder"))
    if t5_shapes:
        problems.extend(_t5_problems(folder, t5_shapes, text_dim))
    vae_shapes = _collect(problems, lambda: torch_file_shapes(folder.vae_path, family.model_source, "the VAE"))
    if vae_shapes:
        problems.extend(_vae_problems(folder, vae_shapes))
    problems.extend(tokenizer_problems(folder))
    problems.extend(lora_stack_problems(family, dits, lora_path, lora_low, extra_loras))
    return problems


def _dit_problems(folder: ModelFolder, family: ModelFamily, expert: Expert, problems: list[str]):
    """One expert's shards against its config.json: (its network on meta, or None; its text width)."""
    dit_shapes = _collect(problems, lambda: dit_file_shapes(folder, family.model_source))
    # the DiT's text width, only when every shard was read; otherwise nothing is compared against it
    text_dim = dit_shapes["text_embedding.0.weight"][1] if dit_shapes and "text_embedding.0.weight" in dit_shapes \
        else None
    dit = None
    try:
        dit = build_dit(folder.dit_config(text_dim or DEFAULT_TEXT_DIM))
    except ModelFilesError as e:
        problems.extend(e.problems)
    if dit is not None and dit_shapes:
        what = "the DiT shards" if not family.has_experts else f"the shards of {expert.title}"
        problems.extend(compare_shapes(what, expected_shapes(dit), dit_shapes))
    return dit, text_dim


def lora_stack_problems(family: ModelFamily, dits: dict[str, torch.nn.Module], lora_path: LoraPath,
                        lora_low: LoraPath = None, extra_loras: list[ExtraLora] | tuple[ExtraLora, ...] = ()
                        ) -> list[str]:
    """One line per LoRA of the stack that cannot be read or does not fit the DiT it merges into."""
    problems: list[str] = []
    try:
        stack = [(path, [name]) for name, path in pusa_lora_paths(family, lora_path, lora_low).items()]
        stack = [(path, experts, family.lora_source) for path, experts in stack]
        stack += [(Path(path), extra_lora_targets(family, expert), EXTRA_LORA_SOURCE) for path, expert in extra_loras]
    except ModelFilesError as e:
        return list(e.problems)
    for path, experts, source in stack:
        shapes = _collect(problems, lambda path=path, source=source: weight_file_shapes(path, source, "LoRA file"))
        if shapes is None:
            continue
        for name in experts:
            if name in dits:
                found = lora_problems(shapes, expected_shapes(dits[name]), path, target_words(family, name))
                if found:
                    problems.extend(found)
                    break  # one line per file
    return problems


def dit_file_shapes(folder: ModelFolder, source: str = WAN_SOURCE) -> Shapes:
    """All DiT tensors over all shards; checks that the index and the shards agree."""
    shapes: Shapes = {}
    problems: list[str] = []
    for shard, indexed_keys in folder.dit_shards().items():
        try:
            found = safetensors_shapes(folder.root / shard, source)
        except ModelFilesError as e:
            problems.extend(e.problems)
            continue
        missing = [k for k in indexed_keys if k not in found]
        if missing:
            problems.append(f"{folder.root / shard} lacks {len(missing)} tensors its index lists "
                            f"(e.g. {missing[0]}): download this shard again from {source}")
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


def _t5_problems(folder: ModelFolder, shapes: Shapes, text_dim: int | None) -> list[str]:
    try:
        dims = T5Dims.from_shapes(shapes)
    except (KeyError, ValueError):
        return [f"{folder.t5_path} is not the umt5-xxl encoder (its keys are not WanTextEncoder's): "
                f"download it again from {WAN_SOURCE}"]
    problems = compare_shapes(str(folder.t5_path), expected_shapes(build_text_encoder(dims)), shapes)
    if text_dim is not None and dims.dim != text_dim:
        problems.append(f"{folder.t5_path} produces {dims.dim}-wide embeddings but the DiT expects {text_dim}: "
                        "the text encoder and DiT come from different models")
    return problems


def _vae_problems(folder: ModelFolder, shapes: Shapes) -> list[str]:
    try:
        dims = VAEDims.from_shapes(shapes)
    except (KeyError, ValueError):
        return [f"{folder.vae_path} is not a Wan2.1 VAE: download Wan2.1_VAE.pth again from {WAN_SOURCE}"]
    return compare_shapes(str(folder.vae_path), expected_shapes(build_vae_network(dims)), shapes)


_TOKENIZER_FILES = ("tokenizer.json", "spiece.model", "tokenizer_config.json", "special_tokens_map.json")


def tokenizer_problems(folder: ModelFolder) -> list[str]:
    """Each tokenizer file is parsed (no code runs), then the tokenizer is loaded the way the engine will."""
    tok = folder.tokenizer_dir
    again = f"copy google/umt5-xxl again from {WAN_SOURCE}"
    if not tok.is_dir():
        return [f"tokenizer folder {tok} is missing: {again}"]
    unsafe = remote_code_problems(folder)
    if unsafe:
        return unsafe
    present = [name for name in _TOKENIZER_FILES if (tok / name).exists() or (tok / name).is_symlink()]
    if "tokenizer.json" not in present and "spiece.model" not in present:
        return [f"tokenizer folder {tok} has neither tokenizer.json nor spiece.model: {again}"]
    problems = []
    for name in present:
        path = tok / name
        problem = regular_file_problem(path, "", WAN_SOURCE)
        if problem is None and (damage := _parse_problem(path)):
            problem = f"{path} {damage}: {again}"
        if problem:
            problems.append(problem)
    if not problems:
        from .loader import load_tokenizer  # the loader imports this module

        try:
            load_tokenizer(folder)
        except ModelFilesError as e:
            problems.extend(e.problems)
    return problems


def _parse_problem(path: Path) -> str | None:
    """Why a tokenizer file is damaged, or None. Only data parsers: nothing here runs code from the file."""
    try:
        if path.name == "tokenizer.json":
            from tokenizers import Tokenizer

            Tokenizer.from_file(str(path))
        elif path.name == "spiece.model":
            import sentencepiece

            sentencepiece.SentencePieceProcessor(model_proto=path.read_bytes())
        else:
            import json

            if not isinstance(json.loads(path.read_bytes()), dict):
                return "is damaged (not a JSON object)"
    except ImportError:
        return None
    except Exception:  # noqa: BLE001 - every parser has its own error types; any means the file is bad
        return "is damaged (it cannot be parsed)"
    return None
