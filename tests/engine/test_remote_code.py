"""No code from a model folder ever runs: a tokenizer asking for its own code (auto_map) is refused
before transformers sees it, so there is no "run the custom code? [y/N]" prompt, even on a terminal."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import signal
import sys
import time
from pathlib import Path

import pytest

from pusa_engine.errors import ModelFilesError
from pusa_engine.loader import load_tokenizer
from pusa_engine.model_files import ModelFolder
from pusa_engine.validation import validate_model_files


@pytest.fixture
def unsafe(demo_model, tmp_path) -> tuple[Path, Path, Path]:
    """(model folder whose tokenizer names custom code, its LoRA, the file that code would write)."""
    src, lora = demo_model
    model = tmp_path / "model"
    shutil.copytree(src, model)
    marker = tmp_path / "custom-code-ran"
    tok = model / "google" / "umt5-xxl"
    (tok / "evil_tokenizer.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n"
        "from transformers import PreTrainedTokenizerFast\n\n\n"
        "class EvilTokenizerFast(PreTrainedTokenizerFast):\n    pass\n")
    config = json.loads((tok / "tokenizer_config.json").read_text())
    config["auto_map"] = {"AutoTokenizer": [None, "evil_tokenizer.EvilTokenizerFast"]}
    (tok / "tokenizer_config.json").write_text(json.dumps(config))
    return model, lora, marker


def test_validate_reports_the_folder_as_unsafe(unsafe):
    model, lora, marker = unsafe
    problems = validate_model_files(model, lora)
    assert len(problems) == 1 and "tokenizer_config.json is unsafe" in problems[0] and not marker.exists()


def test_loading_the_tokenizer_is_refused_before_transformers_runs(unsafe):
    model, _, marker = unsafe
    with pytest.raises(ModelFilesError, match="unsafe"):
        load_tokenizer(ModelFolder(model))
    assert not marker.exists()


def run_in_pty(argv: list[str], timeout: float = 180.0) -> tuple[int, str]:
    """Run the CLI on a pseudo-terminal (where transformers would prompt) and collect all it prints."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI with the terminal as stdin, stdout and stderr
        os.execv(sys.executable, [sys.executable, "-m", "pusa_engine", *argv])
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        else:
            os.kill(pid, signal.SIGKILL)
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out.decode("utf-8", "replace")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
@pytest.mark.parametrize("command", ["validate", "generate"])
def test_cli_on_a_terminal_never_prompts_and_runs_no_code(unsafe, tmp_path, command):
    model, lora, marker = unsafe
    argv = [command, "--model", str(model), "--lora", str(lora)]
    if command == "generate":
        argv += ["--prompt", "x", "--width", "64", "--height", "48", "--frames", "5", "--plan", "cpu",
                 "--out", str(tmp_path / "o.mp4")]
    code, output = run_in_pty(argv)
    assert (code, "[y/N]" in output, "unsafe" in output, marker.exists()) == (1, False, True, False), output
