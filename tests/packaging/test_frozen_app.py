"""The packaged app: build the PyInstaller bundle from this checkout, then run the frozen program.

- the window starts on a fresh account and keeps its files in the user's folders;
- `--version` prints `Pusa Studio <version from pyproject.toml>`;
- `--self-test` (real window, offscreen, a short job on the demo model, video written and read back)
  exits 0, its output shows no import errors, missing shared libraries or Qt plugin failures, and it
  writes nothing inside the bundle;
- the Linux archive's install.sh puts the app, launcher, icon, menu entry and file type under a
  prefix, the installed launcher runs, and uninstall.sh removes all of it.

The build takes minutes (see the README, "Packaged installer"). Marked `packaging`; skipped only when PyInstaller is
not installed. PUSA_PACKAGING_REUSE=1 reuses an existing dist/PusaStudio instead of rebuilding
(for working on these tests; CI always builds).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomllib

pytest.importorskip("PyInstaller", reason="pyinstaller is not installed (pip install -e '.[dev]')")

pytestmark = [pytest.mark.packaging, pytest.mark.timeout(3600)]

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "dist"
BUNDLE = DIST / "PusaStudio"
EXE = BUNDLE / ("pusa-studio.exe" if sys.platform == "win32" else "pusa-studio")
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]

# Lines that mean the bundle is missing something. Qt's own plugin loader messages included
# (QT_DEBUG_PLUGINS=1 makes it report every plugin it fails to load).
BAD_LOG_PATTERNS = [
    r"ModuleNotFoundError",
    r"ImportError",
    r"No module named",
    r"cannot open shared object file",
    r"undefined symbol",
    r"Traceback \(most recent call last\)",
    r"Could not (load|find) the Qt platform plugin",
    r"no Qt platform plugin could be initialized",
    r"Cannot load library",
    r"QLibraryPrivate::loadPlugin failed",
    r"qt\.qpa\.plugin: Could not",
    r"Failed to execute script",
    r"\[PYI-\d+:ERROR\]",
]


def frozen_env(home: Path) -> dict[str, str]:
    """A user's environment: nothing from this checkout or its venv, a private HOME, no system ffmpeg."""
    env = {
        "HOME": str(home),
        "PATH": "/usr/bin:/bin" if sys.platform != "win32" else os.environ.get("PATH", ""),
        "LANG": "C.UTF-8",
        "QT_QPA_PLATFORM": "offscreen",
        "QT_DEBUG_PLUGINS": "1",
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_RUNTIME_DIR": str(home / ".runtime"),
        "CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES", ""),
    }
    if sys.platform == "win32":
        env.update({k: os.environ[k] for k in ("SYSTEMROOT", "TEMP", "TMP", "USERPROFILE") if k in os.environ})
    (home / ".runtime").mkdir(parents=True, exist_ok=True, mode=0o700)
    return env


def run_frozen(
    args: list[str], home: Path, timeout: float, exe: Path = EXE
) -> tuple[subprocess.CompletedProcess, float]:
    start = time.monotonic()
    proc = subprocess.run(
        [str(exe), *args],
        cwd=home,
        env=frozen_env(home),
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
    )
    return proc, time.monotonic() - start


# System libraries QtMultimedia's ffmpeg backend probes with dlopen and does without when the desktop
# lacks them (PipeWire screen capture, VA-API/VDPAU hardware decoding): not part of the bundle, and
# playback works without them, so Qt's "cannot load" for these is not a bundle problem.
OPTIONAL_SYSTEM_LIBRARIES = re.compile(r'"(pipewire-0\.3|va|va-drm|va-x11|vdpau)" cannot load')


def bad_lines(text: str) -> list[str]:
    return [
        line
        for line in text.splitlines()
        if any(re.search(p, line) for p in BAD_LOG_PATTERNS) and not OPTIONAL_SYSTEM_LIBRARIES.search(line)
    ]


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under `folder` with its size and modification time."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            out[str(p.relative_to(folder))] = (st.st_size, st.st_mtime_ns)
    return out


def changes(before: dict, after: dict) -> list[str]:
    return sorted(
        [f"new: {k}" for k in after.keys() - before.keys()]
        + [f"removed: {k}" for k in before.keys() - after.keys()]
        + [f"changed: {k}" for k in before.keys() & after.keys() if before[k] != after[k] and not k.endswith("/")]
    )


@pytest.fixture(scope="module")
def bundle() -> Path:
    if os.environ.get("PUSA_PACKAGING_REUSE") == "1" and EXE.is_file():
        print(f"\n[packaging] reusing {BUNDLE}")
        return BUNDLE
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN", "build.spec"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=3000,
    )
    seconds = time.monotonic() - start
    assert proc.returncode == 0, (
        f"PyInstaller failed after {seconds:.0f} s:\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
    )
    assert EXE.is_file(), f"no {EXE} after the build"
    print(f"\n[packaging] PyInstaller build: {seconds:.0f} s")
    return BUNDLE


def test_bundle_contents(bundle: Path):
    internal = bundle / "_internal"
    assert (internal / "resources" / "style.qss").is_file(), "resources/ is not bundled"
    assert (internal / "resources" / "pusa-studio.desktop").is_file(), "the desktop entry is not bundled"
    if sys.platform.startswith("linux"):
        platforms = internal / "PySide6" / "Qt" / "plugins" / "platforms"
        for plugin in ("libqoffscreen.so", "libqxcb.so"):
            assert (platforms / plugin).is_file(), f"Qt platform plugin {plugin} is missing"
        assert list((internal / "imageio_ffmpeg" / "binaries").glob("ffmpeg-*")), "imageio-ffmpeg's ffmpeg is missing"
        assert (internal / "nvidia" / "cu13" / "lib" / "libcublas.so.13").is_file(), (
            "torch's CUDA libraries are missing"
        )
        assert (internal / "nvidia" / "cudnn" / "lib" / "libcudnn.so.9").is_file(), "cuDNN is missing"
        # torch and the CUDA libraries resolve each other inside the bundle (RPATH $ORIGIN/../../nvidia/...),
        # with no LD_LIBRARY_PATH; only the NVIDIA driver (libcuda.so.1) comes from the user's system.
        libs = [*(internal / "torch" / "lib").glob("*.so*"), *(internal / "nvidia").glob("*/lib/*.so*")]
        missing = []
        for lib in libs:
            out = subprocess.run(
                ["ldd", str(lib)], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}
            ).stdout
            missing += [
                f"{lib.name}: {line.strip()}"
                for line in out.splitlines()
                if "not found" in line and "libcuda.so" not in line
            ]
        assert not missing, "unresolved libraries in the bundle:\n" + "\n".join(missing)
    if importlib.util.find_spec("sentencepiece") is not None:  # spiece.model-only tokenizers need it
        assert (internal / "sentencepiece").is_dir(), "sentencepiece is installed but not bundled"
    assert not (internal / "triton").exists(), "triton should be excluded"
    weights = [p for p in internal.rglob("*") if p.suffix in {".safetensors", ".pth", ".pt", ".ckpt", ".gguf"}]
    assert not weights, f"model weights must never be bundled: {weights[:5]}"
    size = sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file() and not p.is_symlink())
    print(f"\n[packaging] bundle size: {size / 2**30:.2f} GiB")


def test_version(bundle: Path, tmp_path: Path):
    proc, seconds = run_frozen(["--version"], tmp_path, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert proc.stdout.strip() == f"Pusa Studio {VERSION}", out
    assert not bad_lines(out), "\n".join(bad_lines(out))
    print(f"\n[packaging] --version: {seconds:.1f} s")


def test_self_test(bundle: Path, tmp_path: Path):
    before = snapshot(bundle)
    proc, seconds = run_frozen(["--self-test"], tmp_path, timeout=1200)
    log = proc.stdout + proc.stderr
    (tmp_path / "self-test.log").write_text(log, encoding="utf-8")
    assert proc.returncode == 0, f"frozen --self-test failed (exit {proc.returncode}):\n{log[-12000:]}"
    assert "self-test passed" in proc.stdout, log[-12000:]
    # every log the app wrote (stdout/stderr and any log files under its home) is read for failures
    for f in tmp_path.rglob("*.log"):
        if f.name != "self-test.log":
            log += "\n" + f.read_text(encoding="utf-8", errors="replace")
    problems = bad_lines(log)
    assert not problems, "the frozen app's log reports problems:\n" + "\n".join(problems[:40])
    written = changes(before, snapshot(bundle))
    assert not written, f"the app wrote inside its bundle: {written[:20]}"
    print(f"\n[packaging] frozen --self-test: {seconds:.1f} s")


def test_first_start(bundle: Path, tmp_path: Path):
    """The real window (offscreen) on a fresh user account: it stays up, and its files go to the user's
    standard folders (no PUSA_STUDIO_HOME here), never into the bundle."""
    before = snapshot(bundle)
    env = frozen_env(tmp_path)
    env.pop("QT_DEBUG_PLUGINS")
    proc = subprocess.Popen(
        [str(EXE)], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    )
    try:
        time.sleep(15)
        alive = proc.poll() is None
    finally:
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert alive, f"the app exited on its own (code {proc.returncode}):\n{out[-8000:]}"
    log_file = tmp_path / ".local" / "share" / "Pusa" / "Pusa Studio" / "logs" / "pusa-studio.log"
    assert log_file.is_file(), f"no log in the user's data folder: {sorted(map(str, tmp_path.rglob('*')))[:30]}"
    assert (tmp_path / ".config" / "Pusa" / "Pusa Studio").is_dir()
    problems = bad_lines(out + "\n" + log_file.read_text(encoding="utf-8", errors="replace"))
    assert not problems, "\n".join(problems[:40])
    written = changes(before, snapshot(bundle))
    assert not written, f"the app wrote inside its bundle: {written[:20]}"


@pytest.fixture
def work_dir():
    """Scratch space beside dist/ (same file system: the staged archive hard-links the bundle, and the
    install copies several GB, which a RAM-backed /tmp should not have to hold)."""
    path = ROOT / "build" / "packaging-test"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the tar.gz + install.sh artefact is for Linux")
def test_install_and_uninstall(bundle: Path, work_dir: Path):
    stage = work_dir / "unpacked"
    proc = subprocess.run(
        ["bash", str(ROOT / "packaging" / "make-tarball.sh"), "--no-build", "--stage", str(stage)],
        cwd=ROOT,
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (unpacked,) = stage.iterdir()
    assert unpacked.name == f"PusaStudio-{VERSION}-linux-x86_64"

    home = work_dir / "home"
    home.mkdir()
    env = frozen_env(home)
    env.pop("QT_DEBUG_PLUGINS")
    start = time.monotonic()
    proc = subprocess.run(
        ["bash", str(unpacked / "install.sh")], cwd=home, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    print(f"\n[packaging] install.sh: {time.monotonic() - start:.1f} s")

    local = home / ".local"
    app = local / "opt" / "pusa-studio"
    launcher = local / "bin" / "pusa-studio"
    desktop = local / "share" / "applications" / "pusa-studio.desktop"
    icon = local / "share" / "icons" / "hicolor" / "scalable" / "apps" / "pusa-studio.svg"
    mime = local / "share" / "mime" / "packages" / "pusa-studio.xml"
    for f in (app / "pusa-studio", app / "uninstall.sh", launcher, desktop, icon, mime):
        assert f.is_file(), f"install.sh did not create {f}"
    entry = desktop.read_text(encoding="utf-8")
    assert f'Exec="{launcher}" %f' in entry, entry
    assert re.search(r"^Icon=pusa-studio$", entry, re.M), entry
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(["desktop-file-validate", str(desktop)], capture_output=True, text=True)
        errors = [line for line in (check.stdout + check.stderr).splitlines() if "error:" in line]
        assert check.returncode == 0 and not errors, check.stdout + check.stderr
    else:
        print("[packaging] desktop-file-validate not installed: the .desktop entry was not validated")

    proc = subprocess.run([str(launcher), "--version"], cwd=home, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == f"Pusa Studio {VERSION}", proc.stdout + proc.stderr

    proc = subprocess.run(
        ["bash", str(app / "uninstall.sh")], cwd=home, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    left = [str(p.relative_to(home)) for p in home.rglob("*") if p.is_file() and "pusa" in p.name.lower()]
    assert not app.exists() and not launcher.exists() and not desktop.exists() and not icon.exists(), left
    assert not mime.exists(), left
    assert not left, f"uninstall.sh left files behind: {left}"
