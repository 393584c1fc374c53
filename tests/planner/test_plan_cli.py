"""The CLI end to end on the bundled default scenario: plan -> replan -> export (real solver, real files)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from computemoat.cli import app
from computemoat.model import Plan

runner = CliRunner()


@pytest.fixture(scope="module")
def plan_json(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("plan") / "plan.json"
    res = runner.invoke(app, ["plan", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "independent validation: valid" in res.output
    assert "survives loss of any 1 provider: yes" in res.output
    return out


def test_plan_writes_a_plan_that_reads_back(plan_json: Path) -> None:
    p = Plan.model_validate_json(plan_json.read_text())
    assert p.status == "optimal" and p.training and p.inference


def test_replan_withdraw_moves_only_what_was_there(plan_json: Path, tmp_path: Path) -> None:
    p = Plan.model_validate_json(plan_json.read_text())
    gone = p.training[0].provider
    out = tmp_path / "new.json"
    res = runner.invoke(app, ["replan", str(plan_json), "--withdraw", gone, "--out", str(out)])
    assert res.exit_code == 0, res.output
    new = Plan.model_validate_json(out.read_text())
    assert gone not in {x.provider for x in (*new.training, *new.inference)}
    assert "independent validation: valid" in res.output


def test_export_skypilot_and_gateway(plan_json: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["export", "skypilot", str(plan_json), "-o", str(tmp_path / "sky")])
    assert res.exit_code == 0, res.output
    p = Plan.model_validate_json(plan_json.read_text())
    tasks = {f.name: yaml.safe_load(f.read_text()) for f in (tmp_path / "sky").iterdir()}
    assert len(tasks) == len(p.training)
    res = runner.invoke(app, ["export", "gateway", str(plan_json), "-o", str(tmp_path / "gw.yaml")])
    assert res.exit_code == 0, res.output
    assert len(yaml.safe_load((tmp_path / "gw.yaml").read_text())["backends"]) == len(p.inference)


def test_user_mistakes_exit_2_with_one_line(plan_json: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["replan", str(plan_json), "--withdraw", "nosuch"])
    assert res.exit_code == 2
    assert "unknown provider 'nosuch'" in res.output
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    res = runner.invoke(app, ["export", "skypilot", str(bad), "-o", str(tmp_path)])
    assert res.exit_code == 2
    assert "not a computemoat plan" in res.output


def test_replan_withdraw_atlas_is_partial_and_says_what_was_left_out(plan_json: Path, tmp_path: Path) -> None:
    # Only atlas has 16,384 H100 at one site: frontier-pretrain cannot move; the rest is replanned.
    out = tmp_path / "partial.json"
    res = runner.invoke(app, ["replan", str(plan_json), "--withdraw", "atlas", "--out", str(out)])
    # Issue 11 item 6: a partial result is not success: exit code 3, a headline naming what is left out,
    # and a cost delta over the workloads placed in both plans only.
    assert res.exit_code == 3, res.output
    assert "Not placed after the change" in res.output
    assert "warning: partial plan: 1 training job not placed" in res.output
    assert "PARTIAL PLAN: not placed or degraded: frontier-pretrain" in res.output
    head = res.output.lstrip().splitlines()[0]  # a headline: the first line, before any table
    assert head.startswith("PARTIAL PLAN: not placed or degraded: frontier-pretrain"), head
    assert "independent validation: partial" in res.output and "independent validation: valid" not in res.output
    assert "for the workloads placed in both plans" in res.output
    new = Plan.model_validate_json(out.read_text())
    assert "frontier-pretrain" in new.unplaced
    assert any(n.startswith("unplaced: frontier-pretrain: needs 16,384 H100 at one site") for n in new.notes)
    assert "atlas" not in {x.provider for x in (*new.training, *new.inference)}
    assert len(new.training) == len(Plan.model_validate_json(plan_json.read_text()).training) - 1
