"""Every command answers -h like --help and shows an Examples section; the app answers --version."""

from __future__ import annotations

import importlib.util
from importlib.metadata import version
from pathlib import Path

import pytest
from typer.testing import CliRunner

from computemoat.cli import app

ROOT = Path(__file__).parents[2]
runner = CliRunner()


def _commands() -> list[tuple[str, ...]]:
    spec = importlib.util.spec_from_file_location("gen_cli_docs", ROOT / "scripts" / "gen_cli_docs.py")
    assert spec and spec.loader
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    return [(), *gen._commands(app)]


GROUPS = {("export",), ("tenants",), ("keys",), ("limits",), ("prices",)}


@pytest.mark.parametrize("cmd", _commands(), ids=lambda c: " ".join(c) or "computemoat")
def test_dash_h_is_help_with_examples(cmd: tuple[str, ...]) -> None:
    long = runner.invoke(app, [*cmd, "--help"], env={"COLUMNS": "100", "NO_COLOR": "1"})
    short = runner.invoke(app, [*cmd, "-h"], env={"COLUMNS": "100", "NO_COLOR": "1"})
    assert long.exit_code == 0 and short.exit_code == 0, short.output
    assert short.output == long.output
    if cmd in GROUPS:  # a group lists its commands; each of those has its own examples
        return
    assert "Examples" in long.output
    lines = [ln.strip() for ln in long.output.split("Examples", 1)[1].splitlines() if ln.strip().startswith("$")]
    assert lines, long.output
    # each example runs this very command (the oracle: the command path itself)
    words = " ".join(("computemoat", *cmd))
    assert any(words in ln for ln in lines), (words, lines)


def test_version_is_the_installed_distribution() -> None:
    for flag in ("--version", "-V"):
        result = runner.invoke(app, [flag])
        assert result.exit_code == 0
        assert result.output.strip() == f"computemoat {version('computemoat')}"
