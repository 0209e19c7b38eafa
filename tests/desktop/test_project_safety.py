"""A .pusa is data, not a key to the user's disk: opening one never reads or writes outside it.

Foreign media references are dropped, unpacking is limited (zip bombs, lying headers, traversal names)
and a malformed project.json opens repaired with messages or is refused with one line.
"""

from __future__ import annotations

import json
import os
import struct
import sys
import time
import warnings
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pusa_desktop.core.model import JobState, Project
from pusa_desktop.core.persistence import ArchiveLimits, ProjectFileError, load_project, project_to_dict, save_project
from pusa_engine.errors import RequestError

HEAD = {"format": "pusa-studio-project", "version": 1}
ASSET = "assets/0123456789ab_start.png"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
GIB = 1 << 30


def write_pusa(
    path: Path, project: dict[str, Any] | bytes, entries: list[tuple[str, bytes]] | None = None, deflate: bool = False
) -> Path:
    """A .pusa as anyone could write one: project.json plus the given entries (duplicates allowed)."""
    entries = [(ASSET, PNG)] if entries is None else entries
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate names some tests need
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED) as zf:
            zf.writestr("project.json", project if isinstance(project, bytes) else json.dumps(project))
            for name, data in entries:
                zf.writestr(name, data)
    return path


def request(**fields: Any) -> dict[str, Any]:
    return {"prompt": "a boat", "width": 64, "height": 64, "frames": 9, "steps": 2, "seed": 1, "keyframes": [],
            "video": None, **fields}


def keyframe(image: str, frame: int) -> dict[str, Any]:
    return {"image": image, "frame": frame, "noise": 0.3}


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def media_refs(project: Project) -> list[str]:
    """Every media reference the project holds (what a save would copy)."""
    refs = [k.image for k in project.timeline.keyframes]
    refs += [project.timeline.video.video] if project.timeline.video else []
    for job in [*project.queue, *project.history]:
        refs += [k.image for k in job.request.keyframes]
        refs += [job.request.video.video] if job.request.video else []
    return refs


def project_with(place: str, foreign: str) -> dict[str, Any]:
    """A project whose `place` names `foreign`, beside one keyframe that is a real asset."""
    data: dict[str, Any] = {**HEAD, "timeline": {"keyframes": [keyframe(ASSET, 0)]}, "queue": [], "history": []}
    clip = {"slots": [1], "noise": [0.3]}
    if place == "timeline keyframe":
        data["timeline"]["keyframes"].append(keyframe(foreign, 40))
    elif place == "timeline clip":
        data["timeline"]["video"] = {"path": foreign, **clip}
    elif place == "queued keyframe":
        data["queue"].append({"id": "q1", "request": request(keyframes=[keyframe(ASSET, 0), keyframe(foreign, 8)])})
    elif place == "queued clip":
        data["queue"].append({"id": "q1", "request": request(video={"video": foreign, **clip})})
    elif place == "history keyframe":
        data["history"].append({"id": "h1", "state": "done", "request": request(keyframes=[keyframe(foreign, 8)]),
                                "result": {"video_path": "/videos/out.mp4"}})
    else:
        data["history"].append({"id": "h1", "state": "done", "request": request(video={"video": foreign, **clip}),
                                "result": {"video_path": "/videos/out.mp4"}})
    return data


EXPECTED = {
    "timeline keyframe": "Timeline: the keyframe at frame 40 named '/etc/passwd', which is not inside the project: "
    "removed",
    "timeline clip": "Timeline: the video clip named '/etc/passwd', which is not inside the project: removed",
    "queued keyframe": "Queue: job 'a boat': its keyframe at frame 8 named '/etc/passwd', which is not inside the "
    "project: the job cannot run as saved and is marked failed",
    "queued clip": "Queue: job 'a boat': its video clip named '/etc/passwd', which is not inside the project: "
    "the job cannot run as saved and is marked failed",
    "history keyframe": "History: job 'a boat': its keyframe at frame 8 named '/etc/passwd', which is not inside "
    "the project: path cleared",
    "history clip": "History: job 'a boat': its video clip named '/etc/passwd', which is not inside the project: "
    "path cleared",
}


@pytest.mark.parametrize("place", list(EXPECTED))
def test_the_etc_passwd_project_opens_without_it(tmp_path, place):
    path = write_pusa(tmp_path / "p.pusa", project_with(place, "/etc/passwd"))
    project, messages = load_project(path, tmp_path / "assets")
    assert messages == [EXPECTED[place]]
    assert all(ref == "" or ref.startswith(str(tmp_path / "assets")) for ref in media_refs(project))
    assert [Path(k.image).name for k in project.timeline.keyframes] == ["start.png"]
    assert project.timeline.video is None
    what = "keyframe at frame 8" if "keyframe" in place else "video clip"
    for job in project.queue:
        assert job.state is JobState.FAILED
        assert job.problems == [
            f"The {what} named '/etc/passwd', which is not inside the project: add the media again and queue a new job"
        ]
    for job in project.history:  # the record stays, the path is cleared, the result is untouched
        assert job.state is JobState.DONE and job.result.video_path == "/videos/out.mp4"
        media = [k.image for k in job.request.keyframes] + [job.request.video.video if job.request.video else None]
        assert "" in media
    assert [p.name for p in files_under(tmp_path / "assets")] == ["start.png"]


@pytest.mark.parametrize("place", list(EXPECTED))
@pytest.mark.parametrize("form", ["absolute", "relative", "traversal", "asset not in the file"])
def test_no_form_of_a_foreign_path_is_read_or_copied_on_a_later_save(tmp_path, monkeypatch, place, form):
    secret = tmp_path / "private" / "secret.png"
    secret.parent.mkdir()
    secret.write_bytes(b"the user's private file")
    foreign = {"absolute": str(secret), "relative": "../private/secret.png",
               "traversal": "assets/../private/secret.png", "asset not in the file": "assets/ffffffffffff_x.png"}[form]
    monkeypatch.chdir(tmp_path / "private")  # a relative path would even resolve to the secret from here
    project, messages = load_project(write_pusa(tmp_path / "p.pusa", project_with(place, foreign)), tmp_path / "a")
    assert len(messages) == 1 and "which is not inside the project" in messages[0]
    assert all(ref == "" or ref.startswith(str(tmp_path / "a")) for ref in media_refs(project))
    assert save_project(project, tmp_path / "again.pusa") == []
    with zipfile.ZipFile(tmp_path / "again.pusa") as zf:
        assert all(b"private file" not in zf.read(name) for name in zf.namelist())
        assert len(zf.namelist()) == 2  # project.json and the one real asset
    assert all(b"private file" not in p.read_bytes() for p in files_under(tmp_path / "a"))


# ----- unpacking limits ----------------------------------------------------------------------------------
def _raw_zip(path: Path, entries: list[tuple[str, int, list[bytes], int, int]]) -> None:
    """A zip written by hand from already packed data: (name, method, chunks, uncompressed size, CRC)."""
    central, offset = [], 0
    with open(path, "wb") as out:
        for name, method, chunks, size, crc in entries:
            packed = sum(len(c) for c in chunks)
            raw = name.encode()
            out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0x21, crc, packed, size, len(raw), 0))
            out.write(raw)
            for chunk in chunks:
                out.write(chunk)
            central.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0x21, crc, packed, size,
                                       len(raw), 0, 0, 0, 0, 0, offset) + raw)
            offset += 30 + len(raw) + packed
        directory = b"".join(central)
        out.write(directory)
        out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(directory), offset, 0))


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    """3 GiB of zeros in one deflated asset, about 3 MB on disk, built without compressing 3 GiB."""
    zeros = bytes(1 << 20)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = packer.compress(zeros) + packer.flush(zlib.Z_FULL_FLUSH)  # each MiB of zeros packs to these bytes
    crc = 0
    for _ in range(3072):
        crc = zlib.crc32(zeros, crc)
    meta = json.dumps({**HEAD, "timeline": {"keyframes": [keyframe("assets/0123456789ab_zeros.png", 0)]}}).encode()
    path = tmp_path_factory.mktemp("bomb") / "bomb.pusa"
    _raw_zip(path, [("project.json", 0, [meta], len(meta), zlib.crc32(meta)),
                    ("assets/0123456789ab_zeros.png", 8, [block] * 3072 + [packer.flush()], 3 * GIB, crc)])
    with zipfile.ZipFile(path) as zf, zf.open("assets/0123456789ab_zeros.png") as member:  # a real bomb
        assert zf.getinfo("assets/0123456789ab_zeros.png").file_size == 3 * GIB and member.read(1 << 20) == zeros
    return path


def test_a_3_gib_zip_bomb_is_refused_at_once_with_one_line_and_leaves_nothing(tmp_path, bomb):
    assert bomb.stat().st_size < 5_000_000
    start = time.perf_counter()
    with pytest.raises(ProjectFileError) as refused:
        load_project(bomb, tmp_path / "assets")
    assert time.perf_counter() - start < 2
    assert str(refused.value) == (
        "it looks like a zip bomb: 'assets/0123456789ab_zeros.png' would grow from 3.2 MB to 3.2 GB, "
        "over 100 times its packed size: refused"
    )
    assert files_under(tmp_path / "assets") == [] and not (tmp_path / "assets").exists()


def test_the_bomb_is_refused_by_its_size_even_where_the_ratio_is_allowed(tmp_path, bomb):
    with pytest.raises(ProjectFileError, match="would unpack to 3.2 GB, more than the 1.0 GB a project may hold"):
        load_project(bomb, tmp_path / "assets", ArchiveLimits(max_ratio=1e9, max_total_bytes=1_000_000_000))
    assert files_under(tmp_path / "assets") == []


def test_many_small_bombs_are_refused_together(tmp_path):
    entries = [(f"assets/0123456789ab_{i}.png", bytes(900_000)) for i in range(30)]
    path = write_pusa(tmp_path / "p.pusa", {**HEAD}, entries, deflate=True)
    with pytest.raises(ProjectFileError, match="its media would grow from .* over 100 times their packed size"):
        load_project(path, tmp_path / "assets")


@pytest.mark.parametrize(
    ("limits", "refusal"),
    [
        (ArchiveLimits(max_total_bytes=1000), "would unpack to .* KB, more than the 1.0 KB a project may hold"),
        (ArchiveLimits(max_entries=5), "it holds 7 files; a project holds at most 5: refused"),
        (ArchiveLimits(max_project_json_bytes=100), "its project.json is .*; at most 100 bytes is allowed"),
        (ArchiveLimits(keep_free_bytes=10**18), "its media need 1.0 KB of disk space and only .* is free"),
    ],
    ids=["total size", "entries", "project.json size", "free disk"],
)
def test_each_limit_refuses_with_one_line(tmp_path, limits, refusal):
    entries = [(f"assets/0123456789ab_{i}.png", PNG) for i in range(6)]
    path = write_pusa(tmp_path / "p.pusa", project_with("timeline keyframe", ASSET.replace("start", "0")), entries)
    with pytest.raises(ProjectFileError, match=refusal):
        load_project(path, tmp_path / "assets", limits)
    assert files_under(tmp_path / "assets") == []


def _claim_size(path: Path, name: str, size: int) -> None:
    """Make the central directory lie about an entry's uncompressed size."""
    data = bytearray(path.read_bytes())
    pos = data.find(b"PK\x01\x02")
    while pos >= 0:
        length = struct.unpack_from("<H", data, pos + 28)[0]
        if data[pos + 46 : pos + 46 + length] == name.encode():
            struct.pack_into("<L", data, pos + 24, size)
            path.write_bytes(bytes(data))
            return
        pos = data.find(b"PK\x01\x02", pos + 46)
    raise AssertionError(name)


def test_a_lying_header_stops_the_stream_and_removes_what_was_unpacked(tmp_path):
    liar = "assets/ffffffffffff_liar.png"
    data = {**HEAD, "timeline": {"keyframes": [keyframe(ASSET, 0), keyframe(liar, 8)]}}
    path = write_pusa(tmp_path / "p.pusa", data, [(ASSET, PNG), (liar, bytes(20_000_000))], deflate=True)
    _claim_size(path, liar, 1_000_000)  # 20 MB of zeros said to be 1 MB: a ratio that passes the checks
    with pytest.raises(ProjectFileError, match="it is damaged"):
        load_project(path, tmp_path / "assets")
    assert files_under(tmp_path / "assets") == []


EVIL = [
    "assets/../evil.png",
    "../evil.png",
    "assets/sub/evil.png",
    "assets/..",
    "assets/.",
    "assets/..\\evil.png",
    "assets/C:evil.png",
    "assets/aux.png",
    "C:/evil.png",
]


def test_entries_that_point_elsewhere_are_ignored_and_nothing_lands_outside_the_assets(tmp_path):
    absolute = str(tmp_path / "absolute-evil.png")
    names = [*EVIL, absolute]
    data = {**HEAD, "timeline": {"keyframes": [keyframe(ASSET, 0)] + [keyframe(n, 4 * (i + 1)) for i, n in
                                                                    enumerate(names)]}}
    path = write_pusa(tmp_path / "p.pusa", data, [(ASSET, PNG)] + [(n, b"evil") for n in names])
    project, messages = load_project(path, tmp_path / "deep" / "assets")
    assert [Path(k.image).name for k in project.timeline.keyframes] == ["start.png"]
    assert len(messages) == 2 * len(names)
    assert sum("was ignored" in m for m in messages) == len(names)
    assert sum("which is not inside the project: removed" in m for m in messages) == len(names)
    assert sorted(p.name for p in files_under(tmp_path)) == ["p.pusa", "start.png"]


def test_a_duplicate_asset_is_ignored_and_a_duplicate_project_json_refused(tmp_path):
    twice = "assets/0123456789ab_twice.png"
    data = {**HEAD, "timeline": {"keyframes": [keyframe(twice, 0)]}}
    path = write_pusa(tmp_path / "p.pusa", data, [(twice, PNG), (twice, b"other")])
    project, messages = load_project(path, tmp_path / "assets")
    assert project.timeline.keyframes == []
    assert messages == [
        "'assets/0123456789ab_twice.png' is in the file more than once: ignored",
        "Timeline: the keyframe at frame 0 named 'assets/0123456789ab_twice.png', which is not inside the project: "
        "removed",
    ]
    path = write_pusa(tmp_path / "q.pusa", data, [("project.json", json.dumps(HEAD).encode())])
    with pytest.raises(ProjectFileError, match="project.json is in it twice"):
        load_project(path, tmp_path / "assets")


@pytest.mark.skipif(sys.platform == "win32", reason="FIFOs are POSIX")
def test_a_fifo_or_folder_named_as_the_project_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "pipe.pusa")
    (tmp_path / "folder.pusa").mkdir()
    for name in ("pipe.pusa", "folder.pusa"):
        with pytest.raises(ProjectFileError, match="is a folder, pipe or device, not a project file"):
            load_project(tmp_path / name, tmp_path / "assets")


# ----- malformed project.json ----------------------------------------------------------------------------
def _good() -> dict[str, Any]:
    return {
        **HEAD,
        "settings": {"prompt": "a boat", "width": 64},
        "timeline": {"keyframes": [keyframe(ASSET, 0)], "video": None},
        "queue": [{"id": "q1", "state": "queued", "request": request()}],
        "history": [{"id": "h1", "state": "done", "request": request(), "result": {"video_path": "/v/out.mp4"}}],
    }


def _set(*keys: Any, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        target = data
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return change


REPAIRED: dict[str, tuple[Callable[[dict[str, Any]], None], str | None]] = {
    "settings are text": (_set("settings", value="fast"), "Settings: they are damaged: the defaults are used"),
    "negative width": (_set("settings", "width", value=-5), "Settings: width -5 must be between 16 and 2048"),
    "huge frames": (_set("settings", "frames", value=10**12), "Settings: frames 1000000000000 must be between"),
    "steps as text": (_set("settings", "steps", value="ten"), "Settings: steps 'ten' is not a whole number"),
    "width as true": (_set("settings", "width", value=True), "Settings: width True is not a whole number"),
    "infinite cfg": (_set("settings", "cfg", value=float("inf")), "Settings: cfg inf is not a number"),
    "negative seed": (_set("settings", "seed", value=-1), "Settings: seed -1 must be between 0 and 4294967295"),
    "flag as 1": (_set("settings", "new_seed_each_run", value=1), "new_seed_each_run 1 is not true or false"),
    "unknown fit": (_set("settings", "fit", value="stretch"), "Settings: fit 'stretch' must be one of crop, pad"),
    "unknown setting": (_set("settings", "turbo", value=True), "Settings: the unknown setting 'turbo' was ignored"),
    "timeline is a list": (_set("timeline", value=[]), "Timeline: it is damaged: it starts empty"),
    "keyframes are text": (_set("timeline", "keyframes", value="abc"), "Timeline: its keyframes are damaged"),
    "keyframe is a number": (_set("timeline", "keyframes", value=[7]), "Timeline: a keyframe is damaged: removed"),
    "keyframe without image": (_set("timeline", "keyframes", value=[{"frame": 0}]), "frame 0 has no image: removed"),
    "negative frame": (_set("timeline", "keyframes", 0, "frame", value=-1), "has a frame -1 that must be between"),
    "huge frame": (_set("timeline", "keyframes", 0, "frame", value=10**9), "has a frame 1000000000 that must"),
    "frame as text": (_set("timeline", "keyframes", 0, "frame", value="3"), "has a frame '3' that is not a whole"),
    "keyframe noise 7": (_set("timeline", "keyframes", 0, "noise", value=7), "noise 7 must be between 0 and 1"),
    "clip slots text": (_set("timeline", "video", value={"path": ASSET, "slots": "0", "noise": [0.3]}),
                        "Timeline: the video clip has no matching slots and noise values: removed"),
    "clip slot twice": (_set("timeline", "video", value={"path": ASSET, "slots": [1, 1], "noise": [0.3, 0.3]}),
                        "Timeline: the video clip uses a slot twice: removed"),
    "clip slot huge": (_set("timeline", "video", value={"path": ASSET, "slots": [10**6], "noise": [0.3]}),
                       "the video clip has a slot or noise value that is not valid (1000000)"),
    "clip path a number": (_set("timeline", "video", value={"path": 5, "slots": [1], "noise": [0.3]}),
                           "Timeline: the video clip names no file: removed"),
    "queue is a dict": (_set("queue", value={}), "Queue: it is damaged: it starts empty"),
    "queue entry a number": (_set("queue", value=[1]), "Queue: entry 1 is not a job with a request: removed"),
    "job without request": (_set("queue", 0, "request", value=None), "Queue: entry 1 is not a job with a request"),
    "unknown state": (_set("queue", 0, "state", value="exploded"), "its state 'exploded' is unknown: the job cannot"),
    "state a number": (_set("history", 0, "state", value=5), "History: job 'a boat': its state 5 is unknown"),
    "duplicate job ids": (_set("history", 0, "id", value="q1"), "its id 'q1' is used by another job: it got a new"),
    "id a number": (_set("queue", 0, "id", value=12345), "its id 12345 is damaged: it got a new one"),
    "result is text": (_set("history", 0, "result", value="x"), "History: job 'a boat': its result record is"),
    "result path a number": (_set("history", 0, "result", value={"video_path": 5}), "its result record is damaged"),
    "negative created": (_set("queue", 0, "created", value=-5), None),
    "problems are text": (_set("queue", 0, "problems", value="oops"), None),
    "thumbnail a number": (_set("history", 0, "thumbnail", value=5), None),
    "request width text": (_set("queue", 0, "request", "width", value="big"), "width 'big' is not a whole number"),
    "request prompt a list": (_set("history", 0, "request", "prompt", value=["a"]), "prompt ['a'] is not text"),
    "request keyframes text": (_set("queue", 0, "request", "keyframes", value="abc"), "its keyframes are damaged"),
    "request keyframe no image": (_set("queue", 0, "request", "keyframes", value=[{"frame": 0}]),
                                  "keyframe 1 names no file"),
    "request clip a number": (_set("queue", 0, "request", "video", value=3), "its video clip is damaged"),
    "request seed huge": (_set("queue", 0, "request", "seed", value=2**40), "seed 1099511627776 must be between"),
}


@pytest.mark.parametrize("case", list(REPAIRED))
def test_a_malformed_project_opens_repaired_with_a_message(tmp_path, case):
    change, expected = REPAIRED[case]
    data = _good()
    change(data)
    project, messages = load_project(write_pusa(tmp_path / "p.pusa", data), tmp_path / "assets")
    if expected is None:
        assert messages == []
    else:
        assert len(messages) == 1 and expected in messages[0], messages
    _assert_usable(project, tmp_path)


def _assert_usable(project: Project, tmp_path: Path) -> None:
    """Everything the app does with a project works on the repaired one, and a save opens cleanly."""
    s = project.settings
    assert all(isinstance(v, int) and not isinstance(v, bool) for v in (s.width, s.height, s.frames, s.seed))
    assert 16 <= s.width <= 2048 and 1 <= s.frames <= 241 and isinstance(s.new_seed_each_run, bool)
    json.dumps(project_to_dict(project), allow_nan=False)  # plain, finite JSON again
    jobs = [*project.queue, *project.history]
    assert len({job.id for job in jobs}) == len(jobs)
    for job in jobs:
        assert job.title and job.summary and isinstance(job.problems, list) and job.created >= 0
        try:
            job.request.validate()
        except RequestError:
            assert job.state is JobState.FAILED or job in project.history
    for job in project.queue:
        assert job.state in (JobState.QUEUED, JobState.FAILED)
    assert save_project(project, tmp_path / "again.pusa") == []
    assert load_project(tmp_path / "again.pusa", tmp_path / "assets-again").messages == []


REFUSED = {
    "not json": (b"{nope", "damaged or not a Pusa Studio project"),
    "a list": (b"[]", "this file is not a Pusa Studio project"),
    "no format": (b"{}", "this file is not a Pusa Studio project"),
    "version text": (json.dumps({**HEAD, "version": "1"}).encode(), "the version '1' is not a whole number"),
    "newer version": (json.dumps({**HEAD, "version": 2}).encode(), "saved by a newer Pusa Studio"),
    "deep nesting": (b'{"format": "pusa-studio-project", "x": ' + b"[" * 100_000, "damaged"),
    "huge number": (b'{"format": "pusa-studio-project", "settings": {"seed": ' + b"1" * 5000 + b"}}", "damaged"),
    "bad utf-8": (b'{"format": "pusa-studio-project\xff"}', "damaged"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_file_that_is_no_project_is_refused_with_one_line(tmp_path, case):
    raw, reason = REFUSED[case]
    with pytest.raises(ProjectFileError, match=reason) as refused:
        load_project(write_pusa(tmp_path / "p.pusa", raw), tmp_path / "assets")
    assert "\n" not in str(refused.value) and len(str(refused.value)) < 300
    assert files_under(tmp_path / "assets") == []


def test_messages_stay_few_however_broken_the_file(tmp_path):
    data = {**HEAD, "timeline": {"keyframes": [keyframe(f"/etc/file{i}", i) for i in range(200)]}}
    project, messages = load_project(write_pusa(tmp_path / "p.pusa", data), tmp_path / "assets")
    assert project.timeline.keyframes == [] and len(messages) == 20 and messages[-1] == "... and 181 more problems"
