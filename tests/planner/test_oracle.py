"""Oracle: the planner against an independent reference MILP (reference_milp.py) on random small scenarios
with spend and GPU caps, N+k, SLOs, power caps, residency, deadlines, tiers and instance packing.

Both must agree on feasibility; where feasible, on the optimal cost within the planner's reported gap;
and the validator must accept the plan of either side."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from computemoat.model import (
    Accelerator,
    InfeasibleError,
    InferenceService,
    Offering,
    Policy,
    Provider,
    ProviderKind,
    Scenario,
    Site,
    TrainingJob,
    UserRegion,
)
from computemoat.planner import flatten, solve_flat, validate_plan
from computemoat.reliability import FaultModel

_spec = importlib.util.spec_from_file_location("reference_milp", Path(__file__).with_name("reference_milp.py"))
assert _spec is not None and _spec.loader is not None
reference_milp = importlib.util.module_from_spec(_spec)
sys.modules["reference_milp"] = reference_milp
_spec.loader.exec_module(reference_milp)
solve_reference = reference_milp.solve_reference

FAULTS = FaultModel()  # the real defaults: expected hours > nominal, spot preemptions
CASES = 50


def random_scenario(seed: int) -> tuple[Scenario, np.ndarray]:
    rng = np.random.default_rng(seed)
    n_prov = int(rng.integers(2, 5))
    providers = [
        Provider(name=f"p{i}", kind=ProviderKind.specialized, jurisdiction=str(rng.choice(["US", "DE"])))
        for i in range(n_prov)
    ]
    sites, offerings = [], []
    for p in providers:
        for k in range(int(rng.integers(1, 3))):
            site = Site(
                id=f"{p.name}:s{k}",
                provider=p.name,
                region=f"s{k}",
                lat_deg=0,
                lon_deg=0,
                power_capacity_mw=float(rng.choice([0.02, 0.05, 1.0])) if rng.random() < 0.3 else None,
            )
            sites.append(site)
            for m in range(int(rng.integers(1, 3))):
                gpi = int(rng.choice([1, 4, 8]))
                price = float(rng.uniform(1.0, 4.0))
                offerings.append(
                    Offering(
                        id=f"{site.id}:o{m}",
                        site=site.id,
                        accelerator=str(rng.choice(["H100", "A100"])),
                        gpus_per_instance=gpi,
                        capacity_gpus=gpi * int(rng.integers(1, 9)),
                        usd_per_gpu_hour_on_demand=price,
                        usd_per_gpu_hour_spot=price * 0.4 if rng.random() < 0.5 else None,
                        usd_per_gpu_hour_reserved=price * 0.8 if rng.random() < 0.3 else None,
                    )
                )
    regions = [UserRegion(name=f"r{i}", lat_deg=0, lon_deg=0) for i in range(2)]
    jobs = []
    for j in range(int(rng.integers(0, 3))):
        hours = float(rng.uniform(5, 40))
        jobs.append(
            TrainingJob(
                id=f"j{j}",
                accelerators=("H100",) if rng.random() < 0.5 else ("H100", "A100"),
                gpus=int(rng.choice([2, 4, 8, 12])),
                hours=hours,
                spot_allowed=bool(rng.random() < 0.5),
                deadline_hours=hours * float(rng.uniform(1.0, 1.1)) if rng.random() < 0.3 else None,
            )
        )
    services = []
    for s in range(int(rng.integers(1, 3))):
        services.append(
            InferenceService(
                id=f"svc{s}",
                model="m",
                accelerators=("H100", "A100"),
                gpus_per_replica=int(rng.choice([1, 2, 12])),
                rps_per_replica=10.0,
                demand_rps={"r0": float(rng.uniform(1, 40)), "r1": float(rng.uniform(0, 25))},
                latency_slo_ms=float(rng.choice([40.0, 80.0])),
                redundancy_k=int(rng.choice([0, 1])),
                min_replicas=int(rng.choice([0, 0, 3])),
            )
        )
    policy = Policy(
        max_provider_share_spend=float(rng.uniform(0.5, 0.9)) if rng.random() < 0.4 else None,
        max_provider_share_gpus=float(rng.uniform(0.5, 0.9)) if rng.random() < 0.3 else None,
        residency={"r1": (providers[-1].jurisdiction,)} if rng.random() < 0.25 else {},
    )
    sc = Scenario(
        name=f"random-{seed}",
        providers=tuple(providers),
        sites=tuple(sites),
        offerings=tuple(offerings),
        accelerators=(
            Accelerator(name="H100", board_power_w=700, memory_gb=80),
            Accelerator(name="A100", board_power_w=400, memory_gb=80),
        ),
        user_regions=tuple(regions),
        training_jobs=tuple(jobs),
        inference_services=tuple(services),
        policy=policy,
    )
    rtt = rng.uniform(5, 100, size=(len(regions), len(sites)))
    return sc, rtt


def _planner(sc: Scenario, rtt: np.ndarray) -> tuple[float, float, object] | None:
    try:
        r = solve_flat(flatten(sc, rtt, faults=FAULTS), time_limit_s=20, mip_gap=1e-7)
    except InfeasibleError:
        return None
    return r.plan.total_cost_usd, r.mip_gap or 0.0, r.plan


def test_planner_matches_the_reference_on_random_scenarios() -> None:
    feasible = infeasible = 0
    seed = 0
    while feasible < CASES:
        sc, rtt = random_scenario(seed)
        seed += 1
        ref = solve_reference(sc, rtt, FAULTS)
        got = _planner(sc, rtt)
        assert (got is None) == (ref.cost_usd is None), f"{sc.name}: planner {got and got[0]}, reference {ref.cost_usd}"
        if got is None:
            infeasible += 1
            continue
        feasible += 1
        cost, gap, plan = got
        assert ref.cost_usd is not None and ref.plan is not None
        assert cost == pytest.approx(ref.cost_usd, rel=max(gap, 1e-6), abs=1e-6), sc.name
        assert validate_plan(sc, plan, rtt, faults=FAULTS) == [], sc.name  # type: ignore[arg-type]
        assert validate_plan(sc, ref.plan, rtt, faults=FAULTS) == [], sc.name
    assert infeasible < 3 * CASES  # the generator mostly makes plannable scenarios
