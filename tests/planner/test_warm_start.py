"""The warm start's neighbourhoods (highs_run._Stages.rens): a service whose replica counts are all
integral at the LP point is fixed with its traffic; one with a fractional count stays free.

Oracle: one site at one price needs ceil(demand / rps_per_replica) replicas: 20 rps at 10 rps per
replica is 2, 25 rps is 3 (the model's cover rows make the LP say so too)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from computemoat.planner import highs_run
from computemoat.planner.columns import Block
from computemoat.planner.flatten import flatten
from computemoat.planner.milp import build
from computemoat.planner.solve import request_for, solve_flat


def _scenario(kit: SimpleNamespace):  # type: ignore[no-untyped-def]
    return kit.scenario(
        providers=[kit.provider("a")],
        sites=[kit.site("a", "r1")],
        offerings=[kit.offering("a:r1", 2.0, 64, itype="gpu1", gpi=1)],
        services=[kit.service("even", {"NYC": 20.0}), kit.service("odd", {"NYC": 25.0})],
    )


def test_integral_service_is_fixed_fractional_one_stays_free(kit: SimpleNamespace) -> None:
    sc = _scenario(kit)
    flat = flatten(sc, kit.rtt(sc))
    model = build(flat)
    stages = highs_run._Stages(request_for(model, mip_gap=1e-9, time_limit_s=10, start=None).wire(), lambda m: None)
    v = stages.relaxation()
    assert isinstance(v, np.ndarray)
    y = model.columns[Block.y]
    np.testing.assert_allclose(v[y], [2.0, 3.0])  # the LP's counts: even, odd
    v[y.start + 1] = 2.5  # a point where odd's count is fractional, as LP points at scale have
    lo, hi = stages._fix_jobs(v)
    fixed = stages._fix_services(v, lo, hi)
    assert fixed is not None
    f_lo, f_hi = fixed
    svc = model.svc_group
    even, odd = svc == 0, svc == 1
    assert np.all(f_lo[even] == f_hi[even])  # replicas and flows of "even" fixed...
    np.testing.assert_allclose(f_lo[even], v[even])  # ...at their LP values
    assert np.all(f_lo[odd] == model.col_lower[odd]) and np.all(f_hi[odd] == model.col_upper[odd])


def test_plan_from_the_neighbourhoods_is_optimal(kit: SimpleNamespace) -> None:
    sc = _scenario(kit)
    r = solve_flat(flatten(sc, kit.rtt(sc)), time_limit_s=10, mip_gap=1e-9)
    replicas = {p.service_id: p.replicas for p in r.plan.inference}
    assert replicas == {"even": 2, "odd": 3}  # ceil(20/10), ceil(25/10)
    assert r.mip_gap is not None and r.mip_gap <= 1e-9
