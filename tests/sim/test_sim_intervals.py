"""Availability intervals that say what the runs support (issue 13, item 2). Oracles: the exact binomial
law (coverage of Clopper-Pearson computed by summation), the rule of three, and simulated systems whose
downtime probability is known in closed form."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from computemoat.sim.engine import simulate
from computemoat.sim.faults import FaultModel, GpuInterruptions, ProviderFaults
from computemoat.sim.report import frontier_points
from computemoat.sim.stats import availability_interval, clopper_pearson, one_sided_upper, runs_needed
from computemoat.sim.sweep import summarize


def test_clopper_pearson_reference_values_and_rule_of_three() -> None:
    # reference: k = 0 of n gives [0, 1 - (α/2)^(1/n)]; one-sided 95 % bound 1 - 0.05^(1/n) ≈ 3/n
    assert clopper_pearson(0, 20) == (0.0, pytest.approx(1 - 0.025 ** (1 / 20)))
    assert one_sided_upper(0, 20) == pytest.approx(1 - 0.05 ** (1 / 20))
    assert one_sided_upper(0, 1000) == pytest.approx(math.log(20) / 1000, rel=0.002)  # ≈ 3/n
    assert clopper_pearson(20, 20)[1] == 1.0
    lo, hi = clopper_pearson(3, 10)  # tabulated: 0.0667, 0.6525
    assert (lo, hi) == (pytest.approx(0.06674, abs=1e-4), pytest.approx(0.65245, abs=1e-4))
    assert runs_needed(1e-3) == 2996  # ln(20)/p


def _rare_downtime_runs(kit: SimpleNamespace, rate_per_year: float, runs: int, seed0: int) -> np.ndarray:
    sc = kit.scenario(1, services=(kit.service(rps=100.0, per_replica=10.0),))
    plan = kit.plan(sc, inference={"chat": {0: 10}})
    faults = FaultModel(
        gpu=GpuInterruptions(gpu_hours_per_interruption=math.inf),
        spot_preemptions_per_instance_hour_default=0.0,
        providers={"p0": ProviderFaults(outages_per_year=rate_per_year, outage_mean_hours=2.0)},
    )
    out = []
    for s in range(seed0, seed0 + runs):
        svc = simulate(sc, plan, faults, months=1, seed=s).services
        out.append(svc.loc[svc["region"] == "*", "availability"].item())
    return np.array(out)


def test_downtime_share_interval_covers_a_known_system_near_nominal(kit: SimpleNamespace) -> None:
    """One site, no redundancy, outages Poisson at r per hour: a 730-h run sees downtime with
    p = 1 - exp(-r x 730). 60 sweeps of 12 runs: the share of sweeps whose exact interval covers p
    matches the interval's exact coverage sum_k Binom(k; 12, p) 1[p in CP(k)] (>= 95 %) within noise."""
    p = 0.25
    rate_per_year = -math.log(1 - p) / 730 * 8760
    n, sweeps = 12, 60
    avail = _rare_downtime_runs(kit, rate_per_year, n * sweeps, seed0=1000).reshape(sweeps, n)
    covered = [
        availability_interval(a).downtime_share_low <= p <= availability_interval(a).downtime_share_high for a in avail
    ]
    exact = sum(
        stats.binom.pmf(k, n, p) * (clopper_pearson(k, n)[0] <= p <= clopper_pearson(k, n)[1]) for k in range(n + 1)
    )
    assert exact >= 0.95
    se = math.sqrt(exact * (1 - exact) / sweeps)
    assert abs(np.mean(covered) - exact) <= 3.3 * se + 1 / sweeps
    # the runs agree with the closed form for p itself
    share = float((avail < 1).mean())
    assert abs(share - p) <= 3.3 * math.sqrt(p * (1 - p) / avail.size)


def test_redundant_service_gets_a_bound_not_a_point(kit: SimpleNamespace) -> None:
    """A service that no run saw down (before issue 13: reported as exactly [1, 1]): the summary gives
    availability >= 1 - (1 - 0.05^(1/n)) and a warning; every interval stays inside [0, 1]."""
    avail = _rare_downtime_runs(kit, 0.01, 20, seed0=0)
    assert (avail == 1.0).all()
    runs = pd.DataFrame({"k": 1, "cap": 1.0, "seed": range(20), "availability_min": avail, "plan_cost_usd": 5.0})
    row = summarize(runs, ["k", "cap"]).set_index("metric").loc["availability_min"]
    assert row["low"] == pytest.approx(0.05 ** (1 / 20)) and row["high"] == 1.0
    assert row["runs_with_downtime"] == 0 and "0 of 20 runs had downtime" in row["warning"]
    assert row["downtime_share_high"] == pytest.approx(1 - 0.025 ** (1 / 20))
    pts = frontier_points(runs)
    assert bool(pts["bound"].iloc[0]) and pts["y_nines"].iloc[0] == pytest.approx(-math.log10(1 - 0.05 ** (1 / 20)))


def test_bound_covers_the_truth_for_rare_downtime(kit: SimpleNamespace) -> None:
    """True unavailability u of the system above is below r x D; across sweeps of 10 runs the lower
    bound on availability is below 1 - u at least 95 % of the time (its guarantee), and the intervals
    never leave [0, 1]. The old normal interval of the mean, [1, 1] whenever no run saw downtime,
    covered the truth only in the sweeps that happened to see some."""
    rate_per_year = 0.5  # p(downtime in a run) ≈ 4 %, u ≈ 1.1e-4
    u = rate_per_year / 8760 * 2.0
    avail = _rare_downtime_runs(kit, rate_per_year, 400, seed0=5000).reshape(40, 10)
    ivs = [availability_interval(a) for a in avail]
    assert np.mean([iv.low <= 1 - u <= iv.high for iv in ivs]) >= 0.95
    assert all(0.0 <= iv.low <= iv.high <= 1.0 for iv in ivs)
    old_cover = np.mean([(a < 1).any() for a in avail])  # normal CI collapses to [1, 1] otherwise
    assert old_cover < 0.8


def test_share_metrics_never_get_an_interval_outside_0_1(kit: SimpleNamespace) -> None:
    """A real sweep (10 runs of one job, deadline near its 90th percentile, 282 h) where some run misses the
    deadline: the normal interval of deadlines_met_share, mean ± 1.96 s/√n, reaches above 1 (checked
    here, the precondition). Every interval the summary shows (low/high, normal, bootstrap) stays inside
    the physical range: [0, 1] for shares and goodput, >= 0 for costs and counts; the share's low/high
    is the exact bound of stats.availability_interval (a run's share is in [0, 1] and is 1 unless it
    missed, so E[1 - share] <= P(miss): Clopper-Pearson on the runs with a miss)."""
    from computemoat.sim.sweep import run_metrics

    sc = kit.scenario(1, jobs=(kit.job(gpus=16384, hours=200.0, deadline_hours=282.0),))
    plan = kit.plan(sc, {"train": 0})
    faults = FaultModel(providers={"p0": ProviderFaults(outages_per_year=20.0)})
    rows = [run_metrics(simulate(sc, plan, faults, months=1, seed=s)) for s in range(10)]
    runs = pd.DataFrame([{"point": "plan", **r} for r in rows])
    met = runs["deadlines_met_share"].to_numpy()
    n, k = met.size, int((met < 1).sum())
    assert 1 <= k < 3 and met.mean() + 1.96 * met.std(ddof=1) / math.sqrt(n) > 1.0  # the old table's bug
    summary = summarize(runs, ["point"]).set_index("metric")
    cols = ["low", "high", "normal_low", "normal_high", "bootstrap_low", "bootstrap_high"]
    for metric, row in summary.iterrows():
        top = 1.0 if metric.endswith("_share") or metric.startswith(("goodput", "availability")) else math.inf
        assert all(0.0 <= row[c] <= top for c in cols), (metric, row[cols].to_dict())
        assert row["low"] <= row["mean"] <= row["high"]
    share = summary.loc["deadlines_met_share"]
    assert share["low"] == pytest.approx(1 - one_sided_upper(k, n)) and share["high"] == 1.0
    assert share["normal_high"] == 1.0 and f"{k} of {n} runs" in share["warning"]
