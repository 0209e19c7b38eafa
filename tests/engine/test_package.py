"""The package's surface: torch-free to import, one version, the benchmark outside the runtime package."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str) -> str:
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_import_is_torch_free_and_engine_is_lazy():
    out = _run(
        "import sys, pusa_engine\n"
        "from pusa_engine import GenerationRequest, Keyframe, CancelToken, PhaseProgress, PusaError\n"
        "assert pusa_engine.GenerationRequest is GenerationRequest\n"
        "print('torch' in sys.modules, 'diffsynth' in sys.modules)\n"
        "pusa_engine.Engine\n"
        "print('torch' in sys.modules)\n")
    assert out.splitlines() == ["False False", "True"]


def test_lazy_names_resolve_and_unknown_names_fail():
    import pusa_engine

    for name in pusa_engine.__all__:
        assert getattr(pusa_engine, name) is not None, name
    assert "Engine" in dir(pusa_engine)
    try:
        pusa_engine.no_such_name  # noqa: B018
    except AttributeError as e:
        assert "no_such_name" in str(e)
    else:
        raise AssertionError("an unknown name must raise AttributeError")


def test_one_version_from_pyproject():
    import pusa_desktop
    import pusa_engine

    wanted = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.MULTILINE).group(1)
    assert pusa_engine.__version__ == wanted
    assert pusa_engine._FALLBACK_VERSION == wanted  # for a frozen app without metadata
    assert pusa_desktop.__version__ == wanted


def test_benchmark_is_outside_the_runtime_package():
    assert not (ROOT / "pusa_engine" / "bench.py").exists()
    for cmd in (["-m", "benchmarks.bench", "--help"], [str(ROOT / "benchmarks" / "bench.py"), "--help"]):
        r = subprocess.run([sys.executable, *cmd], capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert r.returncode == 0 and "--two-gpu" in r.stdout, r.stderr
    for f in (ROOT / "benchmarks").glob("*.py"):
        assert len(f.read_text().splitlines()) <= 400, f
