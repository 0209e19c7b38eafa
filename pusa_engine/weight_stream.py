"""Weights read from their files straight to their device, a chunk at a time, never mapped into memory.

A safetensors shard or a torch `.pth` (zip) file holds each tensor's bytes at a known offset. They are read
with plain file reads (no memory map: mapped pages would count against the process's resident memory until
the whole file is closed) into small reusable page-locked buffers and copied to the GPU asynchronously, an
event per buffer stopping a read from overwriting bytes a copy still reads; the cast to the compute dtype
happens on the device. For a CPU destination the bytes are read into the tensor itself (page-locked when
asked, for the block-streaming plan). So the process holds, besides the weights where they belong, only
`threads * 2` buffers of `CHUNK` bytes. Several reader threads keep the page cache and the copy engine busy.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import torch

from .errors import ModelFilesError

CHUNK = 32 * 2**20
_MAX_READ = 1 << 30  # one read() call at most (Linux caps a read near 2 GiB)

SAFETENSORS_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool, "F8_E4M3": torch.float8_e4m3fn, "F8_E5M2": torch.float8_e5m2,
}


@dataclass(frozen=True)
class StoredTensor:
    """Where one tensor's bytes are in its file: the storage read from `offset` (`nbytes`), viewed with
    `shape`, `stride` (None: contiguous) and `storage_offset` (elements) as it was saved."""

    name: str
    dtype: torch.dtype
    shape: tuple[int, ...]
    offset: int
    nbytes: int
    stride: tuple[int, ...] | None = None
    storage_offset: int = 0


def safetensors_index(path: Path) -> list[StoredTensor]:
    """The tensors of a safetensors file, from its header (the validator has checked it)."""
    try:
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(n))
    except (OSError, ValueError, struct.error) as e:
        raise ModelFilesError(f"{path} is damaged or not a safetensors file: download it again") from e
    header.pop("__metadata__", None)
    out = []
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype = SAFETENSORS_DTYPES.get(info["dtype"])
        if dtype is None:
            raise ModelFilesError(f"{path}: {name} has the unsupported dtype {info['dtype']}")
        out.append(StoredTensor(name, dtype, tuple(info["shape"]), 8 + n + begin, end - begin))
    return out


def torch_file_index(path: Path) -> list[StoredTensor] | None:
    """The tensors of a torch zip checkpoint and where their storages start, read without their data
    (torch on the meta device records each storage's offset); None when this torch does not say."""
    from .file_headers import unwrap_state_dict

    try:
        state = unwrap_state_dict(torch.load(path, map_location="meta", weights_only=True))
    except Exception as e:  # noqa: BLE001 - torch's text is not for users
        raise ModelFilesError(f"{path} is damaged or not a checkpoint: download it again") from e
    out = []
    for name, t in state.items():
        if not isinstance(name, str) or not isinstance(t, torch.Tensor):
            continue
        storage = t.untyped_storage()
        offset = getattr(storage, "_checkpoint_offset", None)
        if offset is None:
            return None
        out.append(StoredTensor(name, t.dtype, tuple(t.shape), int(offset), storage.nbytes(), tuple(t.stride()),
                                t.storage_offset()))
    return out


def _read_exact(f, view: memoryview, offset: int, path: Path) -> None:
    f.seek(offset)
    done = 0
    while done < len(view):
        n = f.readinto(view[done:done + _MAX_READ])
        if not n:
            raise ModelFilesError(f"{path} ended early (truncated while loading): download it again")
        done += n


def _as_stored(raw: torch.Tensor, st: StoredTensor) -> torch.Tensor:
    """The saved view of a storage read as bytes (a copy when the view does not cover all of it)."""
    data = raw.view(st.dtype) if raw.numel() else torch.empty(0, dtype=st.dtype, device=raw.device)
    if st.stride is None or (st.storage_offset == 0 and data.numel() == _numel(st.shape)
                             and st.stride == contiguous_stride(st.shape)):
        return data.view(st.shape)
    return torch.as_strided(data, st.shape, st.stride, st.storage_offset).contiguous()


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def contiguous_stride(shape: tuple[int, ...]) -> tuple[int, ...]:
    out, step = [], 1
    for d in reversed(shape):
        out.append(step)
        step *= max(d, 1)
    return tuple(reversed(out))


class _Reader:
    """One thread's file handles and page-locked buffers (GPU destinations)."""

    def __init__(self, device: torch.device, chunk: int):
        self.device = device
        self.chunk = chunk
        self.files: dict[Path, object] = {}
        self.buffers: list[torch.Tensor] = []
        self.events: list[torch.cuda.Event | None] = [None, None]
        self.turn = 0

    def file(self, path: Path):
        f = self.files.get(path)
        if f is None:
            f = self.files[path] = open(path, "rb", buffering=0)  # noqa: SIM115 - closed in close()
        return f

    def close(self) -> None:
        for f in self.files.values():
            f.close()
        self.files.clear()
        for e in self.events:
            if e is not None:
                e.synchronize()
        self.buffers.clear()

    def read(self, path: Path, st: StoredTensor, dtype: torch.dtype | None, pin: bool) -> torch.Tensor:
        f = self.file(path)
        if self.device.type == "cpu":
            return self._read_cpu(f, path, st, dtype, pin)
        raw = torch.empty(st.nbytes, dtype=torch.uint8, device=self.device)
        if not self.buffers:
            self.buffers = [torch.empty(self.chunk, dtype=torch.uint8, pin_memory=True) for _ in range(2)]
        pos = 0
        while pos < st.nbytes:
            n = min(self.chunk, st.nbytes - pos)
            k = self.turn
            self.turn ^= 1
            if self.events[k] is not None:
                self.events[k].synchronize()  # the copy that last read this buffer is done
            buf = self.buffers[k]
            _read_exact(f, memoryview(buf.numpy())[:n], st.offset + pos, path)
            raw[pos:pos + n].copy_(buf[:n], non_blocking=True)
            self.events[k] = torch.cuda.Event()
            self.events[k].record()
            pos += n
        t = _as_stored(raw, st)
        return t if dtype is None or t.dtype == dtype else t.to(dtype)

    def _read_cpu(self, f, path: Path, st: StoredTensor, dtype: torch.dtype | None, pin: bool) -> torch.Tensor:
        out_dtype = dtype or st.dtype
        if (st.stride is not None and st.stride != contiguous_stride(st.shape)) or st.storage_offset:
            raw = torch.empty(st.nbytes, dtype=torch.uint8)  # a saved view: read its storage, copy the view
            _read_exact(f, memoryview(raw.numpy()), st.offset, path)
            return _as_stored(raw, st).to(out_dtype).clone(memory_format=torch.contiguous_format)
        out = torch.empty(st.shape, dtype=out_dtype, pin_memory=pin)
        if out_dtype == st.dtype:  # the bytes go straight into the tensor
            if out.numel():
                _read_exact(f, memoryview(out.view(-1).view(torch.uint8).numpy()), st.offset, path)
            return out
        # another dtype: a chunk at a time through one reused buffer (no whole-tensor temporary, whose freed
        # pages the allocator would keep)
        elem = torch.empty(0, dtype=st.dtype).element_size()
        per = max(1, self.chunk // elem)
        if not self.buffers:
            self.buffers = [torch.empty(self.chunk, dtype=torch.uint8)]
        flat = out.view(-1)
        for start in range(0, flat.numel(), per):
            n = min(per, flat.numel() - start)
            buf = self.buffers[0][:n * elem]
            _read_exact(f, memoryview(buf.numpy()), st.offset + start * elem, path)
            flat[start:start + n].copy_(buf.view(st.dtype))
        return out


class WeightStreamer:
    """Reads tensors from files to `device` (in `dtype`, or as stored), `threads` file reads at a time."""

    def __init__(self, device: torch.device, threads: int = 4, chunk: int = CHUNK, pin: bool = False):
        self.device = torch.device(device)
        self.threads = max(1, threads)
        self.chunk = chunk
        self.pin = pin and self.device.type == "cpu" and torch.cuda.is_available()
        self._readers: dict[int, _Reader] = {}

    def _reader(self) -> _Reader:
        import threading

        key = threading.get_ident()
        r = self._readers.get(key)
        if r is None:
            r = self._readers[key] = _Reader(self.device, self.chunk)
        return r

    def _one(self, path: Path, st: StoredTensor, dtype: torch.dtype | None) -> torch.Tensor:
        if self.device.type == "cuda":
            with torch.cuda.device(self.device):
                return self._reader().read(path, st, dtype, self.pin)
        return self._reader().read(path, st, dtype, self.pin)

    def stream(self, items: Iterable[tuple[Path, StoredTensor]], dtype: torch.dtype | None = None
               ) -> Iterator[tuple[Path, str, torch.Tensor]]:
        """(file, name, tensor) for every item, in the order they are ready. On a GPU the tensors are
        ready for the current stream of the calling thread once the iteration has finished."""
        items = list(items)
        try:
            if self.threads == 1:
                for path, st in items:
                    yield path, st.name, self._one(path, st, dtype)
                return
            with ThreadPoolExecutor(self.threads, thread_name_prefix="pusa-load") as pool:
                futures: dict[Future, tuple[Path, str]] = {
                    pool.submit(self._one, path, st, dtype): (path, st.name) for path, st in items}
                try:
                    for fut in as_completed(futures):
                        path, name = futures[fut]
                        yield path, name, fut.result()
                finally:
                    for fut in futures:
                        fut.cancel()
        finally:
            self.close()

    def close(self) -> None:
        for r in self._readers.values():
            r.close()
        self._readers.clear()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)  # every copy done: the tensors are ready for any stream
            empty = getattr(torch._C, "_host_emptyCache", None)
            if empty is not None:
                empty()  # give the page-locked buffers back to the system
