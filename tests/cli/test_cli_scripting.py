"""Output for scripts: whole ids when stdout is not a terminal (however narrow COLUMNS says it is),
and ``--format json`` documents on stdout for plan, replan and simulate (sweep in test_cli_sweep.py)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from computemoat.catalog import load_scenario
from computemoat.cli.plan import EXIT_PARTIAL
from computemoat.planner.plan_file import read_plan

EXAMPLE = Path(__file__).parents[2] / "examples" / "minimal.yaml"
runner = CliRunner()
Doc = dict[str, Any]


def _app() -> typer.Typer:
    from computemoat.cli import app

    return app


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Doc]:
    out = tmp_path_factory.mktemp("plan") / "plan.json"
    result = runner.invoke(_app(), ["plan", str(EXAMPLE), "--out", str(out), "--format", "json"])
    assert result.exit_code == 0, result.output
    return out, json.loads(result.stdout)


def test_no_id_is_cut_when_stdout_is_not_a_terminal(planned: tuple[Path, Doc]) -> None:
    _, doc = planned
    # COLUMNS=40 would cut "globex:us-east-1:p5.48xlarge" to "globex:us-e…" on a 40-column terminal
    table = runner.invoke(_app(), ["plan", str(EXAMPLE)], env={"COLUMNS": "40"})
    assert table.exit_code == 0, table.output
    offering_ids = {p["offering_id"] for p in (*doc["plan"]["training"], *doc["plan"]["inference"])}
    assert offering_ids
    for oid in offering_ids:  # oracle: the ids of the JSON plan, each whole on one line of the table
        assert any(oid in line for line in table.stdout.splitlines()), oid
    assert "…" not in table.stdout


def test_plan_json_document(planned: tuple[Path, Doc]) -> None:
    out, doc = planned
    assert doc["schema"] == "computemoat-plan/1" and doc["scenario"] == "minimal"
    # the document's plan is the plan file's plan (one source of truth)
    assert doc["plan"] == read_plan(out).model_dump(mode="json")
    # closed form: total = sum of the placements' costs
    placements = (*doc["plan"]["training"], *doc["plan"]["inference"])
    assert math.isclose(doc["plan"]["total_cost_usd"], sum(p["cost_usd"] for p in placements), rel_tol=1e-9)
    assert doc["validation"] == {"valid": True, "violations": []}
    assert doc["solver"]["model_status"] == "Optimal" and doc["solver"]["num_cols"] > 0
    assert doc["unplaced"] == []


def test_replan_json_document(planned: tuple[Path, Doc]) -> None:
    out, doc = planned
    result = runner.invoke(_app(), ["replan", str(out), "--withdraw", "globex", "--format", "json"])
    # two providers: without globex, chat loses its N+1, so the document is a partial plan (exit 3)
    assert result.exit_code == EXIT_PARTIAL, result.output
    new = json.loads(result.stdout)
    assert new["schema"] == "computemoat-replan/1" and new["partial"] is True
    assert all(p["provider"] != "globex" for p in (*new["plan"]["training"], *new["plan"]["inference"]))
    before = {p["service_id"] if "service_id" in p else p["job_id"]: p["offering_id"]
              for p in (*doc["plan"]["training"], *doc["plan"]["inference"]) if p["provider"] == "globex"}
    moved = {m["workload_id"] for m in new["moves"]}
    assert set(before) <= moved  # everything that was on the withdrawn provider moved (or is unplaced)
    assert new["cost_before_usd"] == doc["plan"]["total_cost_usd"]
    assert new["cost_after_usd"] == new["plan"]["total_cost_usd"]


def test_simulate_json_document(planned: tuple[Path, Doc]) -> None:
    out, _ = planned
    result = runner.invoke(_app(), ["simulate", str(out), "--months", "0.2", "--seed", "3", "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["schema"] == "computemoat-simulate/1" and doc["seed"] == 3 and doc["months"] == 0.2
    sc = load_scenario(EXAMPLE)
    assert [j["job_id"] for j in doc["jobs"]] == [j.id for j in sc.training_jobs]
    assert {s["service_id"] for s in doc["services"]} == {s.id for s in sc.inference_services}
    assert all(0.0 <= s["availability"] <= 1.0 for s in doc["services"])
    # same seed, same run: the table's total is the document's
    table = runner.invoke(_app(), ["simulate", str(out), "--months", "0.2", "--seed", "3"])
    from computemoat.cli.simulate import _usd

    assert f"total {_usd(doc['summary']['total_cost_usd'])} vs plan" in table.stdout


def test_json_stdout_is_only_json_even_on_a_terminal(planned: tuple[Path, Doc]) -> None:
    """Progress goes to stderr: with a terminal claimed (TTY_COMPATIBLE=1), stdout still parses."""
    result = runner.invoke(_app(), ["plan", str(EXAMPLE), "--format", "json"], env={"TTY_COMPATIBLE": "1"})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["schema"] == "computemoat-plan/1"


def test_catalog_cells_whole_when_piped() -> None:
    rows = json.loads(runner.invoke(_app(), ["catalog", "--region", "us-east", "--format", "json"]).stdout)
    table = runner.invoke(_app(), ["catalog", "--region", "us-east"], env={"COLUMNS": "60"})
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    for r in rows:  # oracle: the JSON rows; each city and region whole on the row's own line
        assert any(r["city"] in ln and r["region"] in ln and r["provider"] in ln for ln in lines), r["city"]


def test_no_id_is_cut_in_a_real_pipe(planned: tuple[Path, Doc]) -> None:
    """The installed command in its own process, COLUMNS=40 in its environment (rich reads it at start)."""
    import os
    import subprocess
    import sys

    _, doc = planned
    exe = Path(sys.executable).parent / "computemoat"
    proc = subprocess.run([str(exe), "plan", str(EXAMPLE)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "40"})
    assert proc.returncode == 0, proc.stderr
    for p in (*doc["plan"]["training"], *doc["plan"]["inference"]):
        assert any(p["offering_id"] in line for line in proc.stdout.splitlines()), p["offering_id"]
    assert "…" not in proc.stdout
    solver = [ln for ln in proc.stdout.splitlines() if ln.startswith("solver:")]
    assert len(solver) == 1 and solver[0].rstrip().endswith(" rows")  # one line, not wrapped
