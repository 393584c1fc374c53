"""Progress of long work goes to stderr, only when stderr is a terminal, and never with --quiet."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from computemoat.cli import app

EXAMPLE = Path(__file__).parents[2] / "examples" / "minimal.yaml"
runner = CliRunner()
# rich's switch for "this stream is a terminal" (and not a dumb one, where nothing animates)
TERMINAL = {"TTY_COMPATIBLE": "1", "TERM": "xterm-256color", "COLUMNS": "100"}


@pytest.fixture(scope="module")
def plan_json(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("p") / "plan.json"
    assert runner.invoke(app, ["plan", str(EXAMPLE), "--out", str(out), "--quiet"]).exit_code == 0
    return out


@pytest.mark.parametrize(("args", "shown"), [
    (["plan", str(EXAMPLE)], "solving"),
    (["simulate", "{plan}", "--months", "0.2"], "simulating 0.2 months"),
])
def test_progress_on_a_terminal_stderr_only(args: list[str], shown: str, plan_json: Path) -> None:
    args = [a.format(plan=plan_json) for a in args]
    on_tty = _run(args, TERMINAL)
    assert on_tty.returncode == 0, on_tty.stderr
    assert shown in on_tty.stderr and shown not in on_tty.stdout
    quiet = _run([*args, "--quiet"], TERMINAL)
    assert quiet.returncode == 0 and quiet.stderr == ""
    piped = _run(args, {"TERM": "xterm-256color"})  # pipes are not terminals
    assert piped.returncode == 0 and piped.stderr == ""


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The installed command in its own process (rich decides "interactive" when its console is made)."""
    exe = Path(sys.executable).parent / "computemoat"
    clean = {k: v for k, v in os.environ.items() if k not in ("TTY_COMPATIBLE", "FORCE_COLOR", "COLUMNS")}
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=300, env={**clean, **env})
