"""Guard against a known PySide6 bug: 6.12.0 drops a reference to None/True on every void call and signal
emit, and CPython below 3.12 frees None after a few hundred thousand of them ("none_dealloc"), killing the
window within minutes. The GUI stack is pinned in pyproject.toml; this test must pass before any bump.

It runs in a child interpreter so that a version with the bug aborts that child, not the test session.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

CALLS = 1_000_000
ALLOWED_DRIFT = 1_000  # the interpreter's own caches move a few references; the bug moves ~CALLS

CHILD = textwrap.dedent(
    f"""
    import json, sys
    from PySide6.QtCore import QObject, Signal
    from PySide6.QtWidgets import QApplication, QLabel

    class Emitter(QObject):
        plain = Signal()
        flag = Signal(bool)

    app = QApplication([])
    label, emitter = QLabel("x"), Emitter()
    emitter.plain.connect(lambda: None)
    emitter.flag.connect(lambda value: None)
    none0, true0 = sys.getrefcount(None), sys.getrefcount(True)
    for i in range({CALLS}):
        label.setText("y")          # a void call
        label.setVisible(False)     # a void call taking a bool
        emitter.plain.emit()        # signal emits
        emitter.flag.emit(True)
    print(json.dumps({{"none": sys.getrefcount(None) - none0, "true": sys.getrefcount(True) - true0}}))
    """
)


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None and True are immortal from Python 3.12 on")
def test_a_million_void_calls_and_emits_leave_none_and_true_alone() -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    child = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, timeout=600)
    assert child.returncode == 0, f"the interpreter died (PySide6 refcount bug?): {child.stderr[-2000:]}"
    drift = json.loads(child.stdout.strip().splitlines()[-1])
    assert abs(drift["none"]) < ALLOWED_DRIFT, drift
    assert abs(drift["true"]) < ALLOWED_DRIFT, drift


def test_the_pinned_gui_stack_is_installed() -> None:
    """The versions the guard above proved are the ones that run (and that the frozen app bundles)."""
    from importlib.metadata import version

    pinned = {"PySide6-Essentials": "6.11.3", "PySide6-Addons": "6.11.3", "shiboken6": "6.11.3", "qasync": "0.28.0"}
    assert {name: version(name) for name in pinned} == pinned
