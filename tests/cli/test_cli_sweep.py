"""`computemoat sweep --format json`: one document on stdout (Ray, local, one CPU; a few tiny runs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from computemoat.cli import app

EXAMPLE = Path(__file__).parents[2] / "examples" / "minimal.yaml"
runner = CliRunner()


@pytest.mark.slow
def test_sweep_json_document(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    assert runner.invoke(app, ["plan", str(EXAMPLE), "--out", str(plan), "--quiet"]).exit_code == 0
    out = tmp_path / "sweep"
    result = runner.invoke(app, ["sweep", str(plan), "--runs", "3", "--months", "0.05", "--num-cpus", "1",
                                 "--out", str(out), "--format", "json", "--quiet"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["schema"] == "computemoat-sweep/1" and doc["runs"] == 3 and doc["by"] == ["point"]
    assert {Path(f).name for f in doc["files"]} >= {"runs.parquet", "summary.json"}
    # the document's summary is the summary.json written next to it
    written = json.loads((out / "summary.json").read_text())
    assert [r["metric"] for r in doc["summary"]] == [r["metric"] for r in written]
    assert all(r["runs"] == 3 for r in doc["summary"])
