"""Inference quality under failover and over the day: served RTT per region (p50/p95, overall and while
degraded) and diurnal demand, so N+k is tested at peak. Oracles: the geometry of the hand-built RTT
matrix and the symmetry of the cosine day (demand above its mean exactly half of the hours)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from computemoat.sim.engine import simulate
from computemoat.sim.faults import FaultModel, GpuInterruptions, ProviderFaults
from computemoat.sim.serving import least_rtt_flow, weighted_quantiles

QUIET = {
    "gpu": GpuInterruptions(gpu_hours_per_interruption=math.inf),
    "spot_preemptions_per_instance_hour_default": 0.0,
}


def test_failover_to_a_farther_site_shows_in_served_rtt(kit: SimpleNamespace) -> None:
    """nyc is 10 ms from p0 and 80 ms from p1 (both within the 100 ms SLO); each site alone carries the
    demand. Least-RTT routing serves from p0 while it is up and from p1 while p0 is down (p0 down ~20 %
    of the time): p50 = 10 ms, p95 = 80 ms, and while degraded every request sees 80 ms; the region is
    always available (the SLO holds on p1)."""
    sc = kit.scenario(2, services=(kit.service(rps=100.0, per_replica=10.0, k=1),))
    plan = kit.plan(sc, inference={"chat": {0: 10, 1: 10}})
    faults = FaultModel(
        **QUIET,
        providers={
            "p0": ProviderFaults(outages_per_year=200.0, outage_mean_hours=10.0),
            "p1": ProviderFaults(outages_per_year=0.0),
        },
    )
    rtt = np.array([[10.0, 80.0]])
    row = simulate(sc, plan, faults, months=6, seed=3, rtt_ms=rtt).services.set_index("region").loc["nyc"]
    assert row["availability"] == 1.0
    assert row["rtt_p50_ms"] == 10.0 and row["rtt_p95_ms"] == 80.0
    assert row["degraded_rtt_p50_ms"] == 80.0 and row["degraded_hours"] > 100


def test_least_rtt_flow_prefers_near_sites_without_losing_requests() -> None:
    """Two regions, two sites: region 0 may use both (5 / 50 ms), region 1 only site 0 (20 ms). Site 0
    holds 100, site 1 holds 100, demand 100 each. Max flow (200) requires region 1 on site 0 and region
    0 on site 1, although site 0 is nearer for region 0: throughput first, RTT second."""
    cap, dem = np.array([100.0, 100.0]), np.array([100.0, 100.0])
    ok = np.array([[True, True], [True, False]])
    rtt = np.array([[5.0, 20.0], [50.0, 0.0]])
    flow = least_rtt_flow(cap, dem, ok, rtt)
    assert flow == pytest.approx(np.array([[0.0, 100.0], [100.0, 0.0]]), abs=1e-6)
    assert weighted_quantiles(np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 2.0]), (0.5, 0.95)) == [2.0, 3.0]


@pytest.mark.parametrize(("replicas", "expected"), [(10, 0.5), (15, 1.0)])
def test_diurnal_peak_tests_the_plan_at_peak(kit: SimpleNamespace, replicas: int, expected: float) -> None:
    """Demand = mean x (1 + 0.5 cos(2π (local hour - 14)/24)). Capacity at the mean (10 x 10 rps) falls
    short in exactly the 12 hours of the day above the mean; capacity for the peak (15 replicas) never."""
    sc = kit.scenario(1, services=(kit.service(rps=100.0, per_replica=10.0),))
    plan = kit.plan(sc, inference={"chat": {0: replicas}})
    faults = FaultModel.none().model_copy(update={"diurnal_peak_to_mean": 1.5})
    days_30 = 720 / 730  # whole days: each day has 12 hours above its mean
    row = simulate(sc, plan, faults, months=days_30, seed=1).services.set_index("region").loc["nyc"]
    assert row["availability"] == pytest.approx(expected, abs=1e-12)
    flat = simulate(sc, plan, FaultModel.none(), months=1, seed=1).services.set_index("region").loc["nyc"]
    assert flat["availability"] == 1.0
