from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from computemoat.catalog import default_scenario_path
from computemoat.cli import app

runner = CliRunner()


def test_catalog_filters_and_json() -> None:
    result = runner.invoke(app, ["catalog", "--provider", "aws", "--accelerator", "H100", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert rows and all(r["provider"] == "aws" and r["accelerator"] == "H100" for r in rows)
    prices = [r["usd_per_gpu_hour_on_demand"] for r in rows]
    assert prices == sorted(prices)


def test_catalog_csv_has_source_column() -> None:
    result = runner.invoke(app, ["catalog", "--format", "csv", "--region", "Tokyo"])
    assert result.exit_code == 0
    header, *body = result.output.strip().splitlines()
    assert "source" in header.split(",") and body
    assert all("Tokyo" in line for line in body)


def test_catalog_table_and_bad_filter() -> None:
    ok = runner.invoke(app, ["catalog", "--accelerator", "B200", "--sort", "capacity"])
    assert ok.exit_code == 0 and "B200" in ok.output
    bad = runner.invoke(app, ["catalog", "--provider", "azure"])
    assert bad.exit_code == 2 and "azure" in bad.output


def test_validate_summary_and_errors(write_yaml: Callable[[str], Path]) -> None:
    ok = runner.invoke(app, ["validate", str(default_scenario_path())])
    assert ok.exit_code == 0 and "16,384" in ok.output and "providers" in ok.output
    bad = runner.invoke(app, ["validate", str(write_yaml("name: x\ntraining_jobs: [{id: j}]\n"))])
    assert bad.exit_code == 2
    assert "Traceback" not in bad.output and "training_jobs[0]" in bad.output


def test_installed_entry_points_run() -> None:
    exe = Path(sys.executable).parent
    for name in ("computemoat", "cmoat"):
        out = subprocess.run([str(exe / name), "--help"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and "catalog" in out.stdout
