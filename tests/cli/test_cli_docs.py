"""docs/cli.md is generated from --help; fail when a command changed and the docs were not regenerated."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def test_cli_reference_is_current(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in (("COLUMNS", "100"), ("NO_COLOR", "1"), ("TERM", "dumb")):
        monkeypatch.setenv(key, value)
    spec = importlib.util.spec_from_file_location("gen_cli_docs", ROOT / "scripts" / "gen_cli_docs.py")
    assert spec and spec.loader
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    current = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert gen.render() == current, "run: .venv/bin/python scripts/gen_cli_docs.py"
