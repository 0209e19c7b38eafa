"""torch.compile of the DiT's block phases: on by default where it works, safe with several threads, and
cached on disk so each size compiles once per machine.

- When: `SpeedOptions.compile` True or False, or "auto" (the default): compiled on CUDA devices when Triton
  is importable and a one-time probe compiles and runs a tiny function there; eager on the CPU (inductor's
  C++ path costs far more than it saves on the demo model), in a frozen app without Triton, and after any
  failure to compile under "auto" (logged once; the job goes on eager).
- Threads: the two-GPU plans call compiled phases from one Python thread per GPU. Dynamo traces with a
  process-wide flag raised, so a thread calling *any* compiled function while another compiles fails
  ("Detected that you are using FX to symbolically trace a dynamo-optimized function"). Every call goes
  through one gate: calls of a signature compiled before run side by side; a call that may compile (a new
  phase, shape, dtype or device) waits until no compiled call runs and keeps others out until it is done.
- Cache: inductor's FX graph cache and Triton's kernels under `compile_cache_dir()` (the user's cache
  folder, or $PUSA_STUDIO_HOME/cache/compile, or $PUSA_COMPILE_CACHE). A later process at a size compiled
  before only traces and loads its kernels. `sizes.json` there records which sizes this machine compiled.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

log = logging.getLogger(__name__)

CACHE_ENV = "PUSA_COMPILE_CACHE"
HOME_ENV = "PUSA_STUDIO_HOME"


# ---- where the compiled code is kept --------------------------------------------------------------------
def compile_cache_dir() -> Path:
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    home = os.environ.get(HOME_ENV)
    if home:
        return Path(home).expanduser() / "cache" / "compile"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pusa-studio" / "compile"


_cache_ready = False


def use_compile_cache(folder: Path | None = None) -> Path:
    """Point inductor's and Triton's on-disk caches at `folder` (default `compile_cache_dir()`), unless the
    user set them; turn the FX graph cache on. Called before the first compilation of the process."""
    global _cache_ready
    folder = Path(folder) if folder is not None else compile_cache_dir()
    if _cache_ready:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(folder / "inductor"))
    os.environ.setdefault("TRITON_CACHE_DIR", str(folder / "triton"))
    import torch._inductor.config as inductor_config

    inductor_config.fx_graph_cache = True
    _cache_ready = True
    return folder


# ---- whether compiling works here --------------------------------------------------------------------------
_probe: dict[str, bool] = {}
_probe_lock = threading.Lock()


def triton_importable() -> bool:
    import importlib.util

    return importlib.util.find_spec("triton") is not None


def compile_unavailable_reason(device: torch.device) -> str | None:
    """Why "auto" keeps `device` eager, or None when compiling may be tried there."""
    if device.type != "cuda":
        return "compiled only on GPUs"
    if not triton_importable():
        return "Triton is not installed" + (" in this app bundle" if getattr(sys, "frozen", False) else "")
    if torch.cuda.get_device_capability(device) < (7, 0):
        return "the GPU is older than Triton supports"
    return None


def compile_works(device: torch.device) -> bool:
    """"auto": compile and run a tiny function on `device` once per process (cached on disk after the
    first time on a machine); False when anything about it fails."""
    key = f"{device.type}:{device.index}"
    if key in _probe:
        return _probe[key]
    with _probe_lock:
        if key in _probe:
            return _probe[key]
        ok = compile_unavailable_reason(device) is None
        if ok:
            try:
                use_compile_cache()
                fn = torch.compile(lambda x: torch.nn.functional.gelu(x) * 2 + 1, dynamic=False, fullgraph=True)
                x = torch.linspace(-2, 2, 256, device=device)
                with GATE.compiling():
                    ok = bool(torch.allclose(fn(x), torch.nn.functional.gelu(x) * 2 + 1, atol=1e-5))
            except Exception as e:  # noqa: BLE001 - any failure means: stay eager
                log.warning("torch.compile does not work on %s (%s); the DiT runs eager", device, e)
                ok = False
        _probe[key] = ok
        return ok


def compile_enabled(setting: bool | str, device: torch.device) -> bool:
    """Whether the phases run compiled on `device` under the setting True / False / "auto"."""
    if setting is True or setting == "on":
        return True
    if setting is False or setting in ("off", "0"):
        return False
    return compile_works(device)


# ---- one compilation at a time, and no compiled call while one runs ------------------------------------
class CompileGate:
    """Readers (calls of compiled code) run together; a writer (a call that may compile) runs alone."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._running = 0
        self._compiling: int | None = None  # the thread compiling now

    @contextmanager
    def running(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._cond:
            while self._compiling is not None and self._compiling != me:
                self._cond.wait()
            self._running += 1
        try:
            yield
        finally:
            with self._cond:
                self._running -= 1
                self._cond.notify_all()

    @contextmanager
    def compiling(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._cond:
            if self._compiling == me:  # nested: already alone
                reentered = True
            else:
                reentered = False
                while self._compiling is not None or self._running:
                    self._cond.wait()
                self._compiling = me
        try:
            yield
        finally:
            if not reentered:
                with self._cond:
                    self._compiling = None
                    self._cond.notify_all()


GATE = CompileGate()


def _signature(args: tuple) -> tuple:
    """What a compiled graph is specialised on: tensors' shapes, strides, dtypes and devices, plain numbers,
    and for modules the device and dtype of their parameters (one graph serves every block)."""
    out: list = [torch.is_grad_enabled()]
    for a in args:
        if isinstance(a, torch.Tensor):
            out.append((tuple(a.shape), a.stride(), a.dtype, str(a.device)))
        elif isinstance(a, torch.nn.Module):
            p = next(a.parameters(), None)
            out.append((type(a).__name__, None if p is None else (str(p.device), p.dtype)))
        elif a is None or isinstance(a, (int, float, bool, str)):
            out.append(a)
        else:
            out.append(type(a).__name__)
    return tuple(out)


class CompiledPhase:
    """A phase function compiled once per signature, through the gate. Under "auto" (`fallback`), a
    failure to compile leaves this phase eager for the rest of the process."""

    def __init__(self, name: str, fn: Callable, options: dict | None = None, backend: str | Callable = "inductor",
                 fallback: bool = False):
        self.name = name
        self.fn = fn
        self.fallback = fallback
        self.failed = False
        self.known: set[tuple] = set()
        self.compiled = torch.compile(fn, dynamic=False, fullgraph=True, options=options, backend=backend)

    def __call__(self, *args):
        if self.failed:
            return self.fn(*args)
        key = _signature(args)
        if key in self.known:
            with GATE.running():
                return self.compiled(*args)
        with GATE.compiling():
            try:
                out = self.compiled(*args)
            except torch.cuda.OutOfMemoryError:
                raise
            except Exception as e:
                if not self.fallback:
                    raise
                log.warning("compiling %s failed (%s); it runs eager from now on", self.name, e)
                self.failed = True
                return self.fn(*args)
            self.known.add(key)
            return out


_phases: dict[tuple, CompiledPhase] = {}
_phases_lock = threading.Lock()


def compiled_phase(name: str, fn: Callable, *, tune: bool = False, backend: str | Callable = "inductor",
                   fallback: bool = False) -> CompiledPhase:
    """The process's one compiled version of a phase (every block, device and thread shares it)."""
    key = (name, tune, backend if isinstance(backend, str) else id(backend), fallback)
    with _phases_lock:
        phase = _phases.get(key)
        if phase is None:
            import torch._dynamo

            if backend == "inductor":
                use_compile_cache()
            # one graph per phase, shape and device serves every block (parameters are graph inputs)
            torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 64)
            options = {"coordinate_descent_tuning": True} if tune else None
            phase = _phases[key] = CompiledPhase(name, fn, options, backend, fallback)
        return phase


# ---- sizes: what the first job at a new size says ---------------------------------------------------------
_sizes_seen: set[str] = set()
_sizes_lock = threading.Lock()


def _sizes_file() -> Path:
    return compile_cache_dir() / "sizes.json"


def _machine_sizes() -> set[str]:
    try:
        data = json.loads(_sizes_file().read_text())
        return {str(s) for s in data} if isinstance(data, list) else set()
    except (OSError, ValueError):
        return set()


def size_status(size_key: str) -> str | None:
    """None when this process has run `size_key` compiled before; else "new" (never compiled on this
    machine) or "cached" (compiled here before: its kernels load from the disk cache)."""
    with _sizes_lock:
        if size_key in _sizes_seen:
            return None
    return "cached" if size_key in _machine_sizes() else "new"


def size_done(size_key: str) -> None:
    """`size_key` ran compiled: remember it for this process and this machine."""
    with _sizes_lock:
        _sizes_seen.add(size_key)
        sizes = _machine_sizes()
        if size_key in sizes:
            return
        try:
            path = _sizes_file()
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"sizes.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(sorted(sizes | {size_key})))
            os.replace(tmp, path)
        except OSError as e:  # a read-only cache folder only costs the message its accuracy
            log.info("could not record compiled sizes in %s: %s", compile_cache_dir(), e)
