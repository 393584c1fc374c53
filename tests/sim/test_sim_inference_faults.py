"""Inference replicas under faults: every capacity change is an event (issue 13, items 1 and 6), and
failure domains take their replicas down together. Oracles: M/G/∞ closed forms."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from computemoat.model import Plan, Tier
from computemoat.reliability import FailureDomain
from computemoat.sim.engine import simulate
from computemoat.sim.faults import FaultModel, GpuInterruptions, ProviderFaults


def _availability(sc: object, plan: Plan, faults: FaultModel, runs: int, months: float) -> np.ndarray:
    out = []
    for s in range(runs):
        svc = simulate(sc, plan, faults, months=months, seed=s).services  # type: ignore[arg-type]
        out.append(svc.loc[svc["region"] == "*", "availability"].item())
    return np.array(out)


def _check(avail: np.ndarray, expected: float) -> None:
    mean, se = float(avail.mean()), float(avail.std(ddof=1) / math.sqrt(avail.size))
    assert abs(mean - expected) <= 3.3 * se, (mean, expected, se)
    assert 1.0 - expected > 10 * se  # power: "always up" (the old answer) is far outside


def test_spot_preemptions_of_replicas_match_the_closed_form(kit: SimpleNamespace) -> None:
    """10 spot replicas, all needed, 0.01 preemptions per replica-hour, 1 h to replace. Each replica is
    down iff it was preempted in the last hour: P(all up) = exp(-10 x 0.01 x 1) = exp(-0.1) ≈ 0.905.
    Before issue 13 capacity was checked only at outages and deploys: availability 1.0000."""
    sc = kit.scenario(1, services=(kit.service(rps=100.0, per_replica=10.0),))
    base = kit.plan(sc, inference={"chat": {0: 10}})
    spot = tuple(p.model_copy(update={"tier": Tier.spot}) for p in base.inference)
    plan = base.model_copy(update={"inference": spot})
    faults = FaultModel(
        gpu=GpuInterruptions(gpu_hours_per_interruption=math.inf),
        spot_replace_hours=1.0,
        providers={"p0": ProviderFaults(outages_per_year=0.0, spot_preemptions_per_instance_hour=0.01)},
    )
    _check(_availability(sc, plan, faults, runs=200, months=1), math.exp(-0.1))


def test_replicas_see_gpu_failures(kit: SimpleNamespace) -> None:
    """Node faults on inference too: 10 one-GPU replicas, all needed, 0.1 faults per GPU-hour, each
    replica back after the 30-min restart: P(all up) = exp(-10 x 0.1 x 0.5) = exp(-0.5)."""
    sc = kit.scenario(1, services=(kit.service(rps=100.0, per_replica=10.0),))
    plan = kit.plan(sc, inference={"chat": {0: 10}})
    faults = FaultModel(
        gpu=GpuInterruptions(gpu_hours_per_interruption=10.0, restart_overhead_s=1800.0),
        domains=(),
        providers={"p0": ProviderFaults(outages_per_year=0.0)},
    )
    _check(_availability(sc, plan, faults, runs=60, months=1), math.exp(-0.5))


def test_a_rack_failure_takes_its_replicas_down_together(kit: SimpleNamespace) -> None:
    """4 replicas of 8 GPUs fill one 32-GPU rack; any one replica carries the demand. Rack failures at
    0.01/h, repair mean 10 h, nothing else fails: the service is down iff the rack is, P = 1 - exp(-0.1).
    Independent replica faults at the same per-replica rate would give ~(1 - e^-0.1)^4 ≈ 1e-4."""
    svc = kit.service(rps=10.0, per_replica=10.0).model_copy(update={"gpus_per_replica": 8})
    sc = kit.scenario(1, services=(svc,))
    plan = kit.plan(sc, inference={"chat": {0: 4}})
    rack = FailureDomain(name="rack", gpus=32, failures_per_domain_year=0.01 * 8760, repair_hours=10.0)
    faults = FaultModel(
        gpu=GpuInterruptions(gpu_hours_per_interruption=32 / 0.01),  # the whole budget is rack events
        domains=(rack,),
        providers={"p0": ProviderFaults(outages_per_year=0.0)},
    )
    _check(_availability(sc, plan, faults, runs=60, months=3), math.exp(-0.1))


def test_union_of_replica_windows_one_pass_equals_replica_by_replica() -> None:
    """The one-pass union (windows shifted per replica) against the replica-by-replica loop (oracle),
    on random overlapping windows of 40 replicas, and a small case worked by hand."""
    from computemoat.sim.inference import _disjoint_loop, _disjoint_per_replica

    rng = np.random.default_rng(5)
    st = rng.integers(0, 10**12, 3000)
    en = st + rng.integers(1, 10**10, 3000)
    rid = rng.integers(0, 40, 3000)
    order = np.lexsort((st, rid))
    got = _disjoint_per_replica(st, en, rid)
    want = _disjoint_loop(st[order], en[order], rid[order])
    assert all((g == w).all() for g, w in zip(got, want, strict=True))
    s, e, r = np.array([0, 2, 3, 0, 9]), np.array([3, 5, 4, 1, 12]), np.array([0, 0, 0, 1, 1])
    gs, ge = _disjoint_per_replica(s, e, r)  # by hand: replica 0 -> [0, 5); replica 1 -> [0, 1), [9, 12)
    assert list(gs) == [0, 0, 9] and list(ge) == [5, 1, 12]
