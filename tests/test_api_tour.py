"""The documented Python API tour (examples/api_tour.py, shown in docs/api.md) must keep running."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest


def test_api_tour_runs(capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(Path(__file__).parents[1] / "examples" / "api_tour.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "plan: $" in out and "SkyPilot tasks: ['finetune.sky.yaml']" in out
    assert "simulated: finetune goodput" in out
