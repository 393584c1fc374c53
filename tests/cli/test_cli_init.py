"""`computemoat init` writes a commented starter scenario that validates and plans as written."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from computemoat.catalog import load_scenario
from computemoat.cli import app

runner = CliRunner()


def test_init_writes_a_scenario_that_validates_and_plans(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    result = runner.invoke(app, ["init", str(path)])
    assert result.exit_code == 0, result.output
    text = path.read_text(encoding="utf-8")
    comments = [ln for ln in text.splitlines() if ln.lstrip().startswith("#") or " # " in ln]
    assert len(comments) >= 10  # commented: a starter explains itself
    sc = load_scenario(path)
    assert sc.training_jobs and sc.inference_services
    ok = runner.invoke(app, ["validate", str(path)])
    assert ok.exit_code == 0, ok.output
    planned = runner.invoke(app, ["plan", str(path), "--format", "json", "--time-limit", "60"])
    assert planned.exit_code == 0, planned.output
    doc = json.loads(planned.stdout)
    assert doc["validation"]["valid"] and not doc["unplaced"]
    # oracle: the scenario's own caps and redundancy, checked on the plan by hand
    gpus = [p["gpus"] for p in (*doc["plan"]["training"], *doc["plan"]["inference"])]
    cap = sc.policy.max_provider_share_gpus
    assert cap is not None
    for provider in {p["provider"] for p in doc["plan"]["inference"]}:
        share = sum(p["gpus"] for p in (*doc["plan"]["training"], *doc["plan"]["inference"])
                    if p["provider"] == provider) / sum(gpus)
        assert share <= cap + 1e-9
    assert len({p["provider"] for p in doc["plan"]["inference"]}) >= 2  # N+1 needs two providers


def test_init_never_overwrites_without_force(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\n", encoding="utf-8")
    refused = runner.invoke(app, ["init", str(path)])
    assert refused.exit_code == 2
    assert refused.stderr.count("error:") == 1 and "--force" in refused.stderr
    assert path.read_text(encoding="utf-8") == "name: mine\n"  # never lost data
    forced = runner.invoke(app, ["init", str(path), "--force"])
    assert forced.exit_code == 0 and load_scenario(path).name == "starter"


def test_init_into_a_missing_directory_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["init", str(tmp_path / "no" / "s.yaml")])
    assert result.exit_code == 2 and result.stderr.count("error:") == 1 and "Traceback" not in result.output
