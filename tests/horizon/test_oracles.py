"""Oracles: (1) one period, no commitments == the single-period planner, where issue 11's corrections do not
matter (replicas of whole instances, no caps, nominal hours); (2) an independent highspy formulation
(tests/horizon/reference.py) on random 2-3 period cases with commitments, growth, decline and caps."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pytest
from tests.horizon.kit import NOMINAL, job, offering, provider, scenario, service, site
from tests.horizon.reference import reference_cost

from computemoat.model import CommitmentOption, DemandSeries, Horizon, InfeasibleError, Policy, UserRegion
from computemoat.planner import plan
from computemoat.planner.horizon import plan_horizon


def _random_case(seed: int, *, periods: int | None, commitments: bool, caps: bool):  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    n_prov = rng.randint(2, 3)
    provs = [provider(f"p{i}") for i in range(n_prov)]
    sites = [site(f"p{i}") for i in range(n_prov)]
    offs = [
        offering(f"p{i}:x", round(rng.uniform(1.0, 3.0), 2), capacity=8 * rng.randint(3, 8),
                 usd_per_gpu_hour_spot=round(rng.uniform(0.5, 0.9), 2) if rng.random() < 0.5 else None)
        for i in range(n_prov)
    ]  # fmt: skip
    services = tuple(
        service(f"s{k}", rps=rng.randint(1, 4), k=rng.choice([0, 1])).model_copy(
            update={"demand_rps": {"r0": float(rng.randint(1, 3)), "r1": float(rng.randint(0, 2))}}
        )
        for k in range(rng.randint(1, 2))
    )
    jobs = tuple(
        job(f"j{k}", gpus=8 * rng.randint(1, 2), hours=float(rng.randint(50, 700)), spot_allowed=rng.random() < 0.5,
            reserved_allowed=False)
        for k in range(rng.randint(0, 2))
    )  # fmt: skip
    horizon = None
    if periods is not None:
        options = ()
        if commitments:
            options = tuple(
                CommitmentOption(id=f"c{i}", offering=offs[i].id, term_periods=rng.randint(1, periods),
                                 usd_per_gpu_hour=round(rng.uniform(0.6, 1.5) * offs[i].usd_per_gpu_hour_on_demand, 2),
                                 take_or_pay_share=rng.choice([0.0, 0.5, 0.7, 1.0]),
                                 upfront_usd_per_gpu=rng.choice([0.0, 200.0]), min_gpus=rng.choice([0, 16]))
                for i in range(n_prov) if rng.random() < 0.7
            )  # fmt: skip
        demand = tuple(DemandSeries(service=s.id, growth_per_year=rng.choice([0.0, 1.0, 3.0])) for s in services)
        horizon = Horizon(start=dt.date(2027, 1, 1), periods=periods, reserved_term_periods=None,
                          price_decline_per_year=rng.choice([0.0, 0.3]), commitments=options,
                          demand=demand)  # fmt: skip
    policy = Policy()
    if caps:
        policy = Policy(max_provider_share_gpus=rng.choice([None, 0.6, 0.8]),
                        max_provider_share_spend=rng.choice([None, 0.7]))  # fmt: skip
    regions = (UserRegion(name="r0", lat_deg=0, lon_deg=0), UserRegion(name="r1", lat_deg=10, lon_deg=10))
    sc = scenario(provs, sites, offs, services=services, jobs=jobs, horizon=horizon, policy=policy, regions=regions)
    # the first two sites serve both regions (so N+1 is possible); a third may be out of reach
    rtt = np.array([[rng.choice([10.0, 20.0, 40.0] + [80.0] * (j >= 2)) for j in range(len(sites))] for _ in range(2)])
    return sc, rtt


@pytest.mark.parametrize("seed", range(20))
def test_one_period_without_commitments_matches_the_single_period_planner(seed: int) -> None:
    sc, rtt = _random_case(seed, periods=None, commitments=False, caps=False)
    try:
        expected = plan(sc, rtt, mip_gap=1e-9, faults=NOMINAL).plan.total_cost_usd
    except InfeasibleError:
        with pytest.raises(InfeasibleError):
            plan_horizon(sc, rtt, faults=NOMINAL, mip_gap=1e-9)
        return
    got = plan_horizon(sc, rtt, faults=NOMINAL, mip_gap=1e-9).plan.total_usd
    assert got == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("seed", range(40))
def test_multi_period_matches_an_independent_formulation(seed: int) -> None:
    sc, rtt = _random_case(seed, periods=2 + seed % 2, commitments=True, caps=seed % 3 == 0)
    try:
        got = plan_horizon(sc, rtt, faults=NOMINAL, mip_gap=1e-9).plan.objective_usd
    except InfeasibleError:
        with pytest.raises(AssertionError, match="Infeasible"):
            reference_cost(sc, rtt)
        return
    assert got == pytest.approx(reference_cost(sc, rtt), rel=1e-6)
