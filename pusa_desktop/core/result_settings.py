"""A result's settings as a readable form (label, value), and the settings two results differ in. No Qt.

The rows are made from the plain request (`GenerationRequest.to_dict()` or a sidecar's checked request), so
the History (one project's jobs) and the Library (every result on this machine) show the same form.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pusa_engine.request import latent_frames, slot_of_pixel_frame

Row = tuple[str, str]
MISSING = "—"


def _number(value: Any, digits: int = 2) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return MISSING if value is None else str(value)
    return str(value) if isinstance(value, int) else f"{value:.{digits}f}".rstrip("0").rstrip(".")


def _noise(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def request_rows(request: dict[str, Any]) -> list[Row]:
    """The generation settings, one row each, in the order the Parameters panel shows them."""
    frames, fps = request.get("frames"), request.get("fps")
    length = ""
    if isinstance(frames, int) and isinstance(fps, int) and fps > 0:
        length = f" ({latent_frames(frames)} latent slots, {frames / fps:.1f} s at {fps} fps)"
    rows: list[Row] = [
        ("Prompt", str(request.get("prompt") or "(none)")),
        ("Negative prompt", str(request.get("negative_prompt") or "(none)")),
        ("Size", f"{request.get('width')} x {request.get('height')} ({request.get('fit', 'crop')})"),
        ("Frames", f"{frames}{length}"),
        ("Frame rate", f"{fps} fps"),
        ("Steps", _number(request.get("steps"))),
        ("CFG", _number(request.get("cfg"))),
        ("Shift", _number(request.get("shift"))),
        ("LoRA strength", _number(request.get("lora_alpha"))),
        ("Seed", _number(request.get("seed"))),
    ]
    keyframes = request.get("keyframes") or []
    for i, kf in enumerate(keyframes, 1):
        frame = kf.get("frame")
        slot = slot_of_pixel_frame(frame) if isinstance(frame, int) else MISSING
        rows.append((f"Keyframe {i}", f"{Path(str(kf.get('image'))).name} at frame {frame} (slot {slot}), "
                                      f"noise {_noise(kf.get('noise'))}"))
    if not keyframes:
        rows.append(("Keyframes", "none (text to video)"))
    video = request.get("video")
    if isinstance(video, dict):
        pairs = ", ".join(f"{s}: {_noise(m)}" for s, m in zip(video.get("slots", []), video.get("noise", []),
                                                               strict=False))
        placed = ""
        if video.get("start_slot") or video.get("in_frame"):
            placed = f", its frame {video.get('in_frame', 0)} on slot {video.get('start_slot', 0)}"
        rows.append(("Video clip", f"{Path(str(video.get('video'))).name}{placed}; slots {pairs} (slot: noise)"))
    rows.append(("PNG frames", "also saved" if request.get("save_png_frames") else "no"))
    return rows


def result_rows(video: str | None, seconds: float | None = None, model: str = "", project: str = "",
                created: float | None = None, plan: str = "") -> list[Row]:
    """Where the result is and how it was made."""
    rows: list[Row] = []
    if video:
        rows.append(("File", video))
    if project:
        rows.append(("Project", project))
    if model:
        rows.append(("Model", model))
    if plan:
        rows.append(("Device", plan))
    if created:
        rows.append(("Made", time.strftime("%Y-%m-%d %H:%M", time.localtime(created))))
    if seconds:
        rows.append(("Took", f"{seconds:.1f} s"))
    return rows


def differences(a: list[Row], b: list[Row]) -> list[tuple[str, str, str]]:
    """(label, A's value, B's value) for every setting that differs; a row only one side has shows MISSING
    on the other. In A's order, then B's extra rows."""
    a_values, b_values = dict(a), dict(b)
    labels = [label for label, _ in a] + [label for label, _ in b if label not in a_values]
    out = []
    for label in labels:
        left, right = a_values.get(label, MISSING), b_values.get(label, MISSING)
        if left != right:
            out.append((label, left, right))
    return out


def as_text(rows: list[Row]) -> str:
    """The form as plain text, one "Label: value" a line (copying, tooltips, tests)."""
    return "\n".join(f"{label}: {value}" for label, value in rows)
