"""Write docs/cli.md from the `--help` of every command, so the reference never drifts from the code.

Usage: .venv/bin/python scripts/gen_cli_docs.py   (tests/cli/test_cli_docs.py checks it is current)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer
from typer.testing import CliRunner

DOC = Path(__file__).parents[1] / "docs" / "cli.md"
HEADER = (Path(__file__).with_name("cli_docs_header.md")).read_text(encoding="utf-8")  # prose above the reference


def _commands(app: typer.Typer, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for info in app.registered_commands:
        out.append((*prefix, info.name or info.callback.__name__.replace("_", "-")))  # type: ignore[union-attr]
    for group in app.registered_groups:
        name = (*prefix, group.name or "")
        out.append(name)
        out.extend(_commands(group.typer_instance, name))  # type: ignore[arg-type]
    return out


def render() -> str:
    os.environ["COLUMNS"] = "100"
    os.environ["NO_COLOR"] = "1"
    os.environ["TERM"] = "dumb"
    from computemoat.cli import app

    runner = CliRunner()
    parts = [HEADER, "## computemoat\n", "```text", runner.invoke(app, ["--help"]).output.rstrip(), "```\n"]
    for cmd in _commands(app):
        out = runner.invoke(app, [*cmd, "--help"]).output.rstrip()
        parts += [f"## computemoat {' '.join(cmd)}\n", "```text", out, "```\n"]
    return "\n".join(parts)


if __name__ == "__main__":
    DOC.write_text(render(), encoding="utf-8")
    print(f"wrote {DOC}", file=sys.stderr)
