"""Reading a `.pusa` zip safely: what may be unpacked, how much, and where.

Every limit is checked on the zip's central directory before a byte is decompressed, and again while
streaming (a header may lie). Only `project.json` and files directly in `assets/` are read; an asset is
unpacked to `assets_dir/<digest>/<its original file name>`, first into a staging folder that is removed
on any failure, so a refused or damaged file leaves nothing behind. Plain Python, no Qt and no globals:
safe to call from a worker thread.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from pusa_engine.atomic_files import temp_path_for

PROJECT_JSON = "project.json"
ASSETS_PREFIX = "assets/"
CHUNK = 1 << 20
MAX_NAME_BYTES = 200
KB, MB, GB = 1000, 1000**2, 1000**3


class ProjectFileError(Exception):
    """The file is not a Pusa Studio project, is damaged or was refused; the message says which."""


class NotARegularFile(OSError):
    """A folder, FIFO, socket or device where a file was expected."""


@dataclass(frozen=True)
class ArchiveLimits:
    """What a project file may unpack to. The defaults fit any real project with room to spare."""

    max_total_bytes: int = 20 * GB  # project.json and every asset together, uncompressed
    keep_free_bytes: int = 250 * MB  # left free on the assets' disk after unpacking
    max_ratio: float = 100.0  # uncompressed / compressed, for one asset and for all of them together
    ratio_floor_bytes: int = 1 * MB  # smaller entries may compress better (a flat PNG, a text file)
    max_entries: int = 4096
    max_project_json_bytes: int = 8 * MB


DEFAULT_LIMITS = ArchiveLimits()

_BAD_CHARS = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*\ud800-\udfff]')
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))}
_DIGEST_NAME = re.compile(r"^([0-9a-f]{12})_(.+)$", re.DOTALL)
_EOCD = struct.Struct("<4s4H2LH")
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")


def human_size(size: float) -> str:
    for unit, scale in (("GB", GB), ("MB", MB), ("KB", KB)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{int(size)} bytes"


def shown(value: object, limit: int = 80) -> str:
    """A value from the file as it may appear in a message: one line, never long, text in quotes."""
    text = (value if isinstance(value, str) else repr(value)).encode("unicode_escape").decode("ascii")
    text = text if len(text) <= limit else text[: limit - 3] + "..."
    return f"'{text}'" if isinstance(value, str) else text


def file_name_problem(name: str) -> str | None:
    """Why `name` cannot be a file name on every system the app runs on; None when it can."""
    if name in ("", ".", ".."):
        return "is not a file name"
    if _BAD_CHARS.search(name):
        return "holds characters a file name cannot hold"
    if name.endswith((" ", ".")):
        return "ends with a space or a dot"
    if name.split(".")[0].upper() in _RESERVED:
        return "is reserved on Windows"
    if len(name.encode()) > MAX_NAME_BYTES:
        return "is too long"
    return None


def safe_file_name(name: str) -> str:
    """`name` made acceptable to `file_name_problem` (save uses it, so every saved asset opens again)."""
    clean = _BAD_CHARS.sub("_", name).rstrip(" .") or "media"
    if clean.split(".")[0].upper() in _RESERVED:
        clean = "_" + clean
    stem, dot, suffix = clean.rpartition(".") if "." in clean[1:] else (clean, "", "")
    while len((stem + dot + suffix).encode()) > MAX_NAME_BYTES:
        stem, suffix = (stem[:-1], suffix) if len(stem) > 1 else (stem, suffix[:-1])
    return (stem + dot + suffix).rstrip(" .") or "media"


def asset_entry_name(source: str | Path) -> str:
    """The archive name of a media file: `assets/<digest of its path>_<its file name>`."""
    digest = hashlib.sha1(os.path.abspath(source).encode("utf-8", "surrogateescape")).hexdigest()
    return f"{ASSETS_PREFIX}{digest[:12]}_{safe_file_name(Path(source).name)}"


def open_regular_file(path: str | Path) -> BinaryIO:
    """Open a regular file for reading; a FIFO, device or folder raises OSError without ever blocking."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotARegularFile(f"{path} is not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


@dataclass
class AssetEntry:
    info: zipfile.ZipInfo
    folder: str  # the digest folder under assets_dir
    name: str  # the user's original file name


@dataclass
class ProjectArchive:
    """A `.pusa` whose central directory passed the limits. Use as a context manager."""

    fp: BinaryIO
    zf: zipfile.ZipFile
    limits: ArchiveLimits
    project_info: zipfile.ZipInfo
    assets: dict[str, AssetEntry]  # entry name -> asset, only those that may be unpacked
    messages: list[str] = field(default_factory=list)  # entries ignored, for the user

    def __enter__(self) -> ProjectArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.zf.close()
        self.fp.close()

    def read_project_json(self) -> bytes:
        cap = self.limits.max_project_json_bytes
        with _zip_errors(), self.zf.open(self.project_info) as src:
            data = src.read(cap + 1)  # the header's size was checked; zipfile stops there even if it lies
        if len(data) > cap:
            raise ProjectFileError(f"its project.json holds more than its header says (over {human_size(cap)})")
        return data

    def extract(self, names: set[str], assets_dir: str | Path) -> dict[str, str]:
        """Unpack the assets named (keys of `self.assets`); returns entry name -> unpacked path."""
        assets_dir = Path(assets_dir)
        chosen = sorted(n for n in names if n in self.assets)
        if not chosen:
            return {}
        needed = sum(self.assets[n].info.file_size for n in chosen)
        free = shutil.disk_usage(_existing_parent(assets_dir)).free
        if needed > free - self.limits.keep_free_bytes:
            raise ProjectFileError(
                f"its media need {human_size(needed)} of disk space and only {human_size(free)} is free: refused"
            )
        moved: list[Path] = []
        staging = temp_path_for(assets_dir / "unpacking")
        try:
            assets_dir.mkdir(parents=True, exist_ok=True)
            staging.mkdir()
            out = {name: assets_dir / self.assets[name].folder / self.assets[name].name for name in chosen}
            fresh = [name for name in chosen if not _holds(out[name], self.assets[name].info)]
            for name in fresh:
                self._unpack(self.assets[name], staging)
            for name in fresh:  # only now, with every asset unpacked, replace what an earlier open left
                entry = self.assets[name]
                out[name].parent.mkdir(exist_ok=True)
                os.replace(staging / entry.folder / entry.name, out[name])
                moved.append(out[name])
            return {name: str(target) for name, target in out.items()}
        except OSError as error:
            for target in moved:
                target.unlink(missing_ok=True)
            raise ProjectFileError(f"could not unpack its media into {assets_dir} ({error})") from error
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _unpack(self, entry: AssetEntry, staging: Path) -> None:
        """Stream one entry into the staging folder, never past the size its header states."""
        target = staging / entry.folder / entry.name
        target.parent.mkdir(exist_ok=True)
        written = 0
        with _zip_errors():
            src = self.zf.open(entry.info)
        with src, open(target, "xb") as dst:  # an error writing is the disk's, not the file's
            while True:
                with _zip_errors():
                    chunk = src.read(CHUNK)
                if not chunk:
                    return
                written += len(chunk)
                if written > entry.info.file_size:
                    raise ProjectFileError(f"{shown(entry.info.filename)} holds more than its header says")
                dst.write(chunk)


@contextmanager
def _zip_errors() -> Iterator[None]:
    """The errors of reading and decompressing a damaged entry, as one ProjectFileError."""
    try:
        yield
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as error:
        raise ProjectFileError(f"it is damaged ({error})") from error


def _holds(target: Path, info: zipfile.ZipInfo) -> bool:
    """Whether an earlier open of this project left this very asset there (same size and CRC): kept as it is,
    so a file the open project shows is not replaced under it."""
    try:
        with open_regular_file(target) as existing:
            if os.fstat(existing.fileno()).st_size != info.file_size:
                return False
            crc = 0
            while chunk := existing.read(CHUNK):
                crc = zlib.crc32(chunk, crc)
            return crc == info.CRC
    except OSError:
        return False


def _existing_parent(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _central_directory(fp: BinaryIO) -> tuple[int, int] | None:
    """(entries, bytes) of the central directory as the end record states them; None without one."""
    size = fp.seek(0, os.SEEK_END)
    tail_start = max(0, size - _EOCD.size - 0xFFFF)
    fp.seek(tail_start)
    tail = fp.read()
    pos = tail.rfind(b"PK\x05\x06")
    if pos < 0 or pos + _EOCD.size > len(tail):
        return None
    *_, entries, cd_size, _offset, _comment = _EOCD.unpack_from(tail, pos)
    if entries == 0xFFFF or cd_size == 0xFFFFFFFF:
        locator = pos - _ZIP64_LOCATOR.size
        if locator >= 0 and tail[locator : locator + 4] == b"PK\x06\x07":
            offset = _ZIP64_LOCATOR.unpack_from(tail, locator)[2]
            fp.seek(offset)
            record = fp.read(_ZIP64_EOCD.size)
            if len(record) == _ZIP64_EOCD.size and record[:4] == b"PK\x06\x06":
                entries, cd_size = _ZIP64_EOCD.unpack(record)[7:9]
    return entries, cd_size


def _asset_of(name: str) -> tuple[AssetEntry | None, str | None]:
    """The asset an entry name stands for, or why it is ignored (None, None: a folder entry, skipped quietly)."""
    if name in ("assets/", "assets"):
        return None, None
    if not name.startswith(ASSETS_PREFIX):
        return None, f"{shown(name)} was ignored: only project.json and files directly in assets/ belong to a project"
    rest = name[len(ASSETS_PREFIX) :]
    if "/" in rest:
        return None, f"{shown(name)} was ignored: only files directly in assets/ are read"
    match = _DIGEST_NAME.match(rest)
    if match:
        folder, original = match.group(1), match.group(2)
    else:
        folder, original = hashlib.sha1(name.encode()).hexdigest()[:12], rest
    problem = file_name_problem(original)
    if problem:
        return None, f"{shown(name)} was ignored: its name {problem}"
    return AssetEntry(zipfile.ZipInfo(name), folder, original), None


def open_archive(path: str | Path, limits: ArchiveLimits = DEFAULT_LIMITS) -> ProjectArchive:
    """Open a `.pusa` and check it against `limits` without decompressing anything."""
    path = Path(path)
    try:
        fp = open_regular_file(path)
    except FileNotFoundError as error:
        raise ProjectFileError(f"{path} does not exist") from error
    except NotARegularFile as error:
        raise ProjectFileError(f"{path} is a folder, pipe or device, not a project file") from error
    except OSError as error:
        raise ProjectFileError(f"{path} cannot be read ({error.strerror or error})") from error
    try:
        return _checked(path, fp, limits)
    except BaseException:
        fp.close()
        raise


def _checked(path: Path, fp: BinaryIO, limits: ArchiveLimits) -> ProjectArchive:
    directory = _central_directory(fp)
    if directory is not None:
        entries, cd_size = directory
        if entries > limits.max_entries:
            raise ProjectFileError(f"it holds {entries} files; a project holds at most {limits.max_entries}: refused")
        if cd_size > limits.max_entries * 1024:
            size = human_size(cd_size)
            raise ProjectFileError(f"its list of files takes {size}, far more than a project needs: refused")
    fp.seek(0)
    try:
        zf = zipfile.ZipFile(fp)
    except (zipfile.BadZipFile, ValueError, EOFError, OSError, NotImplementedError) as error:
        raise ProjectFileError(f"{path} is damaged or not a Pusa Studio project ({error})") from error
    try:
        return _checked_entries(path, fp, zf, limits)
    except BaseException:
        zf.close()
        raise


def _checked_entries(path: Path, fp: BinaryIO, zf: zipfile.ZipFile, limits: ArchiveLimits) -> ProjectArchive:
    infos = zf.infolist()
    if len(infos) > limits.max_entries:
        raise ProjectFileError(f"it holds {len(infos)} files; a project holds at most {limits.max_entries}: refused")
    counts: dict[str, int] = {}
    for info in infos:
        counts[info.filename] = counts.get(info.filename, 0) + 1
    if counts.get(PROJECT_JSON, 0) != 1:
        reason = "no project.json" if PROJECT_JSON not in counts else "project.json is in it twice"
        raise ProjectFileError(f"{path} is damaged or not a Pusa Studio project ({reason})")
    project_info = zf.getinfo(PROJECT_JSON)
    if not _readable(project_info):
        raise ProjectFileError("its project.json is encrypted or compressed in a way Pusa Studio does not read")
    if project_info.file_size > limits.max_project_json_bytes:
        raise ProjectFileError(
            f"its project.json is {human_size(project_info.file_size)}; "
            f"at most {human_size(limits.max_project_json_bytes)} is allowed: refused"
        )
    messages: list[str] = []
    assets: dict[str, AssetEntry] = {}
    for info in infos:
        if info.filename == PROJECT_JSON or counts[info.filename] == -1:
            continue
        entry, message = _asset_of(info.filename)
        if entry is None:
            if message:
                messages.append(message)
        elif counts[info.filename] > 1:
            messages.append(f"{shown(info.filename)} is in the file more than once: ignored")
            counts[info.filename] = -1  # said once
        elif not _readable(info):
            messages.append(f"{shown(info.filename)} was ignored: it is encrypted or compressed in an unknown way")
        else:
            entry.info = info
            assets[info.filename] = entry
    _check_sizes([project_info, *(a.info for a in assets.values())], limits)
    return ProjectArchive(fp, zf, limits, project_info, assets, messages)


def _readable(info: zipfile.ZipInfo) -> bool:
    return not info.flag_bits & 0x1 and info.compress_type in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


def _check_sizes(infos: list[zipfile.ZipInfo], limits: ArchiveLimits) -> None:
    total = sum(i.file_size for i in infos)
    if total > limits.max_total_bytes:
        raise ProjectFileError(
            f"it would unpack to {human_size(total)}, more than the {human_size(limits.max_total_bytes)} "
            "a project may hold: refused"
        )
    media = [i for i in infos if i.filename != PROJECT_JSON]
    for info in media:
        if info.file_size > limits.ratio_floor_bytes and info.file_size > limits.max_ratio * max(1, info.compress_size):
            raise ProjectFileError(
                f"it looks like a zip bomb: {shown(info.filename)} would grow from {human_size(info.compress_size)} "
                f"to {human_size(info.file_size)}, over {limits.max_ratio:g} times its packed size: refused"
            )
    unpacked, packed = sum(i.file_size for i in media), sum(i.compress_size for i in media)
    if unpacked > limits.ratio_floor_bytes and unpacked > limits.max_ratio * max(1, packed):
        raise ProjectFileError(
            f"it looks like a zip bomb: its media would grow from {human_size(packed)} to {human_size(unpacked)}, "
            f"over {limits.max_ratio:g} times their packed size: refused"
        )
