"""Common random numbers across grid points (issue 13, item 5): each site, job and replica has its own
stream, so what two plans share sees the same draws. Oracle: identity of the shared draws (correlation
exactly 1) and the nesting of Poisson processes under a time change (counts of a process at twice the
rate contain those at the base rate)."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import numpy as np

from computemoat.sim.engine import simulate
from computemoat.sim.faults import FaultModel, ProviderFaults


def test_grid_points_share_the_draws_of_what_they_share(kit: SimpleNamespace) -> None:
    """Two plans with the same job placement but different inference (k = 0 on p1 vs k = 1 on p1 + p2):
    the job's interruptions and p1's outages are the same per seed (before: correlation 0.5-0.9)."""
    sc = kit.scenario(3, jobs=(kit.job(hours=300),), services=(kit.service(k=1),))
    plans = [kit.plan(sc, {"train": 0}, {"chat": spread}) for spread in ({1: 10}, {1: 10, 2: 10})]
    faults = FaultModel(providers={f"p{i}": ProviderFaults(outages_per_year=40.0) for i in range(3)})
    runs = [[simulate(sc, p, faults, months=2, seed=s) for s in range(25)] for p in plans]
    intr = np.array([[r.summary["interruptions"] for r in point] for point in runs])
    assert (intr[0] == intr[1]).all() and intr[0].std() > 0
    hours = np.array([[r.jobs["completion_hours"].item() for r in point] for point in runs])
    assert (hours[0] == hours[1]).all()
    # p1's outages are shared: wherever k = 0 (p1 alone) was fully up, k = 1 was too
    avail = np.array([[r.services.set_index("region").loc["*", "availability"] for r in point] for point in runs])
    assert (avail[1] >= avail[0]).all() and (avail[1] > avail[0]).any()


def test_a_bigger_job_sees_a_superset_of_the_failures(kit: SimpleNamespace) -> None:
    """1,024 vs 2,048 GPUs of the same job id: interruptions are unit-exposure gaps scaled by the rate,
    so over the same window the bigger job's count is >= the smaller's, run by run."""
    faults = FaultModel(providers={"p0": ProviderFaults(outages_per_year=0.0)}, domains=())
    counts = []
    for gpus in (1024, 2048):
        sc = kit.scenario(1, jobs=(kit.job(gpus=gpus, hours=2000.0),))
        plan = kit.plan(sc, {"train": 0})
        counts.append([simulate(sc, plan, faults, months=0.5, seed=s).summary["interruptions"] for s in range(25)])
    small, big = np.array(counts)
    assert (big >= small).all() and np.corrcoef(small, big)[0, 1] > 0.5


def test_arrivals_do_not_depend_on_how_the_process_is_read() -> None:
    """Oracle: the definition of a read-forward process. Reading [0, T) in one call or in 50 uneven
    slices gives the same arrival times (to the nanosecond), kinds' uniforms and durations; the count
    over the window is Poisson(rate x T) (mean 2,000 here, 3 sd)."""
    from computemoat.sim.streams import Arrivals, stream

    rate_per_ns, horizon = 2000 / 1e15, 10**15
    whole = Arrivals(stream(7, "job", "x"), rate_per_ns).take(0, horizon)
    sliced = Arrivals(stream(7, "job", "x"), rate_per_ns)
    cuts = np.unique(np.concatenate(([0, horizon], np.random.default_rng(0).integers(0, horizon, 49))))
    parts = [sliced.take(int(a), int(b)) for a, b in itertools.pairwise(cuts)]
    for i in range(3):
        np.testing.assert_allclose(np.concatenate([p[i] for p in parts]), whole[i], rtol=1e-9, atol=2)
    counts = [Arrivals(stream(s, "job", "x"), rate_per_ns).take(0, horizon)[0].size for s in range(30)]
    assert abs(np.mean(counts) - 2000) < 3 * np.sqrt(2000 / 30)


def test_pick_equals_searchsorted() -> None:
    """Oracle: np.searchsorted(edges, u, side="right"), edges included (u equal to an edge)."""
    from computemoat.sim.streams import pick

    u = np.concatenate((np.random.default_rng(1).random(1000), [0.2, 0.5, 0.0]))
    for edges in (np.zeros(0), np.array([0.5]), np.array([0.2, 0.5, 0.9]), np.linspace(0.1, 0.9, 7)):
        assert (pick(edges, u) == np.searchsorted(edges, u, side="right")).all()
