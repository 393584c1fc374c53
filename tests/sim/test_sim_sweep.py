"""Sweeps on a real local Ray (kept to one small start), CIs, and the HTML report."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from computemoat.sim import FaultModel, ProviderFaults, simulate
from computemoat.sim.report import write_report
from computemoat.sim.stats import bootstrap_ci, normal_ci
from computemoat.sim.sweep import SweepPoint, run_metrics, summarize, sweep


def test_ray_sweep_equals_serial_runs_and_reports(kit: SimpleNamespace, tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    sc = kit.scenario(3, jobs=(kit.job(hours=200),), services=(kit.service(k=1),))
    faults = FaultModel(providers={f"p{i}": ProviderFaults(outages_per_year=100.0) for i in range(3)})
    points = [
        SweepPoint({"k": k, "cap": 1.0}, sc, kit.plan(sc, {"train": 0}, {"chat": spread}))
        for k, spread in ((0, {1: 10}), (1, {1: 10, 2: 10}))
    ]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        df = sweep(points, faults, runs=6, months=2, seed=10)
    finally:
        ray.shutdown()
    assert len(df) == 12 and sorted(df["seed"].unique()) == list(range(10, 16))
    serial = pd.DataFrame(
        [
            {"k": p.labels["k"], "cap": 1.0, **run_metrics(simulate(sc, p.plan, faults, months=2, seed=s))}
            for p in points
            for s in range(10, 16)
        ]
    )
    pd.testing.assert_frame_equal(df[serial.columns], serial, check_dtype=False)
    # redundancy pays: k=1 is never less available than k=0 under the same seeds
    a = df.pivot(index="seed", columns="k", values="availability_min")
    assert (a[1] >= a[0]).all() and (a[1] > a[0]).any()
    summary = summarize(df, ["k", "cap"])
    row = summary[(summary["k"] == 1) & (summary["metric"] == "total_cost_usd")].iloc[0]
    assert row["normal_low"] <= row["mean"] <= row["normal_high"] and row["runs"] == 6
    paths = write_report(df, ["k", "cap"], tmp_path)
    html = paths[0].read_text(encoding="utf-8")
    assert paths[0].name == "report.html" and "Redundancy frontier" in html and "k = 1" in html


def test_confidence_intervals_cover_a_known_mean() -> None:
    rng = np.random.default_rng(0)
    covered_n = covered_b = 0
    for _ in range(200):
        x = rng.exponential(2.0, size=50)
        covered_n += normal_ci(x).low <= 2.0 <= normal_ci(x).high
        b = bootstrap_ci(x, resamples=500)
        covered_b += b.low <= 2.0 <= b.high
    assert 0.88 <= covered_n / 200 <= 0.99 and 0.86 <= covered_b / 200 <= 0.99
