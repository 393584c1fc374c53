"""Reading result directories defensively, the plan diff's reasons, the histogram quantile, and the
CLI's one-line errors for bad dashboard inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from computemoat.cli import app
from computemoat.model import UserError
from computemoat.web.gateway_live import bucket_quantile, parse_metrics
from computemoat.web.results import frontier_points, read_sim_dir, read_sweep_dir

EXAMPLE = Path(__file__).parents[2] / "examples" / "minimal.yaml"


def _sweep_dir(tmp_path: Path, records: list[dict[str, object]], runs: pd.DataFrame) -> Path:
    d = tmp_path / "sweep-out"
    d.mkdir()
    (d / "summary.json").write_text(json.dumps(records))
    runs.to_parquet(d / "runs.parquet", index=False)
    return d


def test_sweep_reads_whatever_intervals_the_simulator_writes(tmp_path: Path) -> None:
    """A future summary.json with an exact binomial interval and a one-sided bound: every pair is an
    interval, the exact one is preferred for the frontier, a lone column is shown as it is."""
    runs = pd.DataFrame({"k": [0, 0, 1, 1], "cap": [1.0] * 4, "seed": [1, 2, 1, 2],
                         "plan_cost_usd": [10.0, 10.0, 20.0, 20.0], "availability_min": [0.99, 1.0, 1.0, 1.0]})
    rec = [
        {"k": k, "cap": 1.0, "metric": "plan_cost_usd", "mean": c, "normal_low": c, "normal_high": c,
         "clopper_pearson_low": None, "clopper_pearson_high": None, "unavailability_upper": None, "runs": 2}
        for k, c in ((0, 10.0), (1, 20.0))
    ] + [
        {"k": 0, "cap": 1.0, "metric": "availability_min", "mean": 0.995, "normal_low": 0.985, "normal_high": 1.005,
         "clopper_pearson_low": 0.9, "clopper_pearson_high": 0.999, "unavailability_upper": 0.1, "runs": 2},
        {"k": 1, "cap": 1.0, "metric": "availability_min", "mean": 1.0, "normal_low": 1.0, "normal_high": 1.0,
         "clopper_pearson_low": 0.8, "clopper_pearson_high": 1.0, "unavailability_upper": 0.2, "runs": 2},
    ]
    sweep = read_sweep_dir(_sweep_dir(tmp_path, rec, runs))
    assert sweep.labels == ("k", "cap") and sweep.runs == 2
    assert [i.name for i in sweep.summary.intervals] == ["normal", "clopper_pearson"]
    assert "unavailability_upper" in sweep.summary.columns
    points, name = frontier_points(sweep)
    assert name == "clopper_pearson"
    assert [(p["k"], p["cost"], p["lo"], p["hi"]) for p in points] == [(0, 10.0, 0.9, 0.999), (1, 20.0, 0.8, 1.0)]


def test_a_normal_interval_past_1_is_clipped_on_the_chart_not_in_the_table(tmp_path: Path) -> None:
    runs = pd.DataFrame({"k": [0], "cap": [1.0], "seed": [1], "availability_min": [1.0]})
    rec = [{"k": 0, "cap": 1.0, "metric": "plan_cost_usd", "mean": 5.0, "normal_low": 5.0, "normal_high": 5.0},
           {"k": 0, "cap": 1.0, "metric": "availability_min", "mean": 0.999, "normal_low": 0.998,
            "normal_high": 1.0004}]
    sweep = read_sweep_dir(_sweep_dir(tmp_path, rec, runs))
    points, _ = frontier_points(sweep)
    assert points[0]["hi"] == 1.0  # availability cannot exceed 1
    assert [r["normal_high"] for r in sweep.summary.rows if r["metric"] == "availability_min"] == [1.0004]


def test_bad_result_directories_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"missing runs\.parquet, summary\.json; not a `computemoat sweep --out`"):
        read_sweep_dir(tmp_path)
    with pytest.raises(UserError, match="not a directory"):
        read_sim_dir(tmp_path / "nope")
    for name in ("jobs.parquet", "services.parquet"):
        (tmp_path / name).write_bytes(b"not parquet")
    (tmp_path / "summary.json").write_text("{oops")
    with pytest.raises(UserError, match=r"summary\.json:1: not valid JSON"):
        read_sim_dir(tmp_path)
    (tmp_path / "summary.json").write_text("{}")
    with pytest.raises(UserError, match=r"jobs\.parquet: not a readable Parquet file"):
        read_sim_dir(tmp_path)


def test_bucket_quantile_is_prometheus_histogram_quantile() -> None:
    """Closed form: 10 observations in (0, 1], 20 in (1, 2], 10 in (2, 4]; rank 0.95 x 40 = 38 lies 8/10
    into (2, 4] -> 3.6; the median (rank 20) is half-way through (1, 2] -> 1.5; a rank in +Inf -> 4."""
    buckets = [(1.0, 10.0), (2.0, 30.0), (4.0, 40.0), (float("inf"), 40.0)]
    assert bucket_quantile(buckets, 0.95) == pytest.approx(3.6)
    assert bucket_quantile(buckets, 0.5) == pytest.approx(1.5)
    assert bucket_quantile([(1.0, 1.0), (float("inf"), 10.0)], 0.99) == 1.0
    assert bucket_quantile([(1.0, 0.0), (float("inf"), 0.0)], 0.5) is None


def test_parse_metrics_sums_labels_per_backend() -> None:
    text = "\n".join([
        'gateway_requests_total{model="m",status="200"} 7.0',
        'gateway_requests_total{model="m",status="502"} 1.0',
        'gateway_upstream_errors_total{backend="a",provider="p",kind="http_500"} 2.0',
        'gateway_upstream_errors_total{backend="a",provider="p",kind="connect"} 1.0',
        'gateway_ejections_total{scope="backend",name="a"} 1.0',
        'gateway_ejections_total{scope="provider",name="p"} 1.0',
    ]) + "\n"
    m = parse_metrics(text)
    assert m["requests"] == {"total": 8.0, "errors": 1.0, "by_status": {"200": 7.0, "502": 1.0}, "retries": 0.0}
    (a,) = m["backends"]
    assert (a["name"], a["errors"], a["ejections"]) == ("a", 3.0, 1.0)
    assert a["errors_by_kind"] == {"http_500": 2.0, "connect": 1.0}
    assert m["circuits_opened"] == {"p": 1.0}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--gateway", "localhost:8080"], "--gateway 'localhost:8080': give the gateway's base URL"),
        (["--simulation", "/nonexistent/sim-out"], "/nonexistent/sim-out: not a directory"),
        (["--before", "/nonexistent/plan.json"], "/nonexistent/plan.json"),
        (["--deal", "/nonexistent/deal.json"], "/nonexistent/deal.json: no such file"),
        (["--deal", str(EXAMPLE)], f"{EXAMPLE}:1: not valid JSON"),  # a scenario YAML is not a deal
    ],
)
def test_dashboard_bad_inputs_exit_2_with_one_line(args: list[str], message: str) -> None:
    res = CliRunner().invoke(app, ["dashboard", str(EXAMPLE), "--no-solve", *args])
    assert res.exit_code == 2, res.output
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], res.output


def test_replan_diff_reasons_come_from_the_plans() -> None:
    """Withdraw one of minimal.yaml's two providers: its placement leaves the plan, and the N+1 service
    can no longer be placed; the diff says both, in the words of the new plan's own note."""
    from computemoat.catalog import load_scenario
    from computemoat.latency import rtt_matrix
    from computemoat.planner import Change, plan, replan
    from computemoat.web.diff import plan_diff

    scenario = load_scenario(EXAMPLE)
    rtt_ms = rtt_matrix(scenario).rtt_ms
    before = plan(scenario, rtt_ms).plan
    after = replan(scenario, before, Change(withdraw_providers=("globex",)), rtt_ms).plan
    (note,) = [n for n in after.notes if n.startswith("unplaced: chat: ")]
    diff = plan_diff(scenario, before, after)  # the scenario as the user has it: globex not excluded there
    (move,) = diff.moves
    assert (move.workload_id, move.from_provider, move.to_offering) == ("chat", "globex", None)
    assert move.why.startswith("provider globex has no placement in the new plan")
    assert "not placed after the change: " + note.removeprefix("unplaced: chat: ") in move.why
    assert diff.unplaced == ("chat",)
    assert diff.cost_delta_usd == pytest.approx(after.total_cost_usd - before.total_cost_usd)


def test_deal_upload_answers_422_with_one_line_never_500(deal_file: Path) -> None:
    """POST /api/deal straight (no browser): bytes that are not UTF-8, a JSON list, a foreign object, a
    plan file; each a 422 whose error names the file and what is wrong. The good file opens."""
    from fastapi.testclient import TestClient

    from computemoat.catalog import load_scenario
    from computemoat.web import DashboardData, create_dashboard_app

    client = TestClient(create_dashboard_app(DashboardData(scenario=load_scenario(EXAMPLE))))
    good = deal_file.read_bytes()
    cases = {
        b"\xff\xfe\x00garbage": "not UTF-8 text",
        b"[1, 2, 3]": "expected a JSON object with schema 'computemoat.deal/1', got a list",
        b'{"hello": "world"}': "no 'schema' field",
        json.dumps(json.loads(good)["with_offer"]).encode(): "no 'schema' field",
    }
    for body, message in cases.items():
        r = client.post("/api/deal", params={"name": "x.json"}, content=body)
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error.startswith("x.json") and message in error and "\n" not in error
    r = client.post("/api/deal", params={"name": "deal.json"}, content=good)
    assert r.status_code == 200 and r.json()["ok"]
    page = client.get(r.json()["url"])
    assert page.status_code == 200 and json.loads(good)["offer"] in page.text
    assert client.get("/api/deal").status_code == 404  # nothing loaded at start-up
