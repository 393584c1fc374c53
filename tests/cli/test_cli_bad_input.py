"""A user mistake on any command is one line on stderr and exit code 2, never a traceback."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from computemoat.catalog import load_scenario
from computemoat.cli import app
from computemoat.latency import rtt_matrix
from computemoat.planner import plan

EXAMPLE = Path(__file__).parents[2] / "examples" / "minimal.yaml"


@pytest.fixture(scope="module")
def plan_json(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sc = load_scenario(EXAMPLE)
    path = tmp_path_factory.mktemp("plan") / "plan.json"
    path.write_text(plan(sc, rtt_matrix(sc).rtt_ms).plan.model_dump_json())
    return path


def _tampered(plan_json: Path, tmp: Path) -> Path:
    data = json.loads(plan_json.read_text())
    data["training"][0]["offering_id"] = "nope:nope:nope"
    out = tmp / "tampered.json"
    out.write_text(json.dumps(data))
    return out


CASES: dict[str, Callable[[Path, Path], list[str]]] = {
    "plan --out into a missing directory": lambda p, t: ["plan", str(EXAMPLE), "--out", str(t / "no" / "p.json")],
    "plan that does not match the scenario": lambda p, t: [
        "simulate", str(_tampered(p, t)), "--scenario", str(EXAMPLE), "--months", "0.1"],
    "months beyond the clock": lambda p, t: ["simulate", str(p), "--scenario", str(EXAMPLE), "--months", "4000"],
    "negative seed": lambda p, t: ["simulate", str(p), "--scenario", str(EXAMPLE), "--seed", "-1"],
    "gateway config that is not text": lambda p, t: ["serve", str(_write(t / "bin.yaml", b"\xff\xfe\x00"))],
    "port out of range": lambda p, t: ["serve", str(t / "gw.yaml"), "--port", "99999"],
    "database that cannot be opened": lambda p, t: [
        "usage", "--tenant", "acme", "--month", "2026-11", "--database-url", f"sqlite:///{t}/no/such/dir/db"],
    "export into an unwritable place": lambda p, t: [
        "export", "gateway", str(p), "--scenario", str(EXAMPLE), "-o", str(t / "no" / "gw.yaml")],
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", list(CASES))
def test_mistake_is_one_line_and_exit_2(case: str, plan_json: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, CASES[case](plan_json, tmp_path))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)  # a crash would leave the real exception here
