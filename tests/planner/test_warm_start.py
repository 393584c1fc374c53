"""The warm start's neighbourhoods (highs_run._Stages.rens): a service whose replica counts are all
integral at the LP point is fixed with its traffic; one with a fractional count stays free.

Oracle: one site at one price needs ceil(demand / rps_per_replica) replicas: 20 rps at 10 rps per
replica is 2, 25 rps is 3 (the model's cover rows make the LP say so too)."""

from __future__ import annotations

import subprocess
from types import SimpleNamespace

import numpy as np
import pytest

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


def _two_jobs(kit: SimpleNamespace):  # type: ignore[no-untyped-def]
    # the hand-worked instance of test_milp_optimum: j1 (32 GPUs) at b, j2 (48) at a, $1,920
    return kit.scenario(
        providers=[kit.provider("a"), kit.provider("b")],
        sites=[kit.site("a", "r1"), kit.site("b", "r1")],
        offerings=[kit.offering("a:r1", 2.0, 64), kit.offering("b:r1", 3.0, 64)],
        jobs=[kit.job("j1", 32), kit.job("j2", 48)],
    )


def test_late_start_reaches_the_child_process(
    kit: SimpleNamespace, solver_children: list[subprocess.Popen[bytes]]
) -> None:
    """plan()'s greedy start is computed while the child solves the LP, then piped to it: the child's
    plan is still the exact optimum, and the start was asked for once."""
    sc = _two_jobs(kit)
    calls: list[int] = []

    def start():  # type: ignore[no-untyped-def]
        calls.append(1)
        return None

    r = solve_flat(flatten(sc, kit.rtt(sc)), time_limit_s=20, mip_gap=1e-9, start=start)
    assert calls == [1] and len(solver_children) == 1
    assert r.plan.total_cost_usd == 1920.0
    assert r.plan.status == "optimal"


def test_late_start_is_offered_as_an_incumbent(kit: SimpleNamespace) -> None:
    """The child's side: a start read after the warm start is completed by an LP and offered."""
    sc = _two_jobs(kit)
    flat = flatten(sc, kit.rtt(sc))
    model = build(flat)
    x = model.columns[Block.x]
    start = np.full(len(model.col_cost), np.nan)
    start[x] = 0.0
    # j1 at a, j2 at b: feasible (32 + 48 GPUs fit 64 each), $2 x 32 x 10 + $3 x 48 x 10 = $2,080
    names = model.col_names[x]
    start[x.start + names.index("x[j1|a:r1:gpu8|on_demand]")] = 1.0
    start[x.start + names.index("x[j2|b:r1:gpu8|on_demand]")] = 1.0
    sent: list[tuple[object, ...]] = []
    stages = highs_run._Stages(
        request_for(model, mip_gap=1e-9, time_limit_s=10, start=None).wire(), sent.append, lambda: start
    )
    stages.caller_start()
    assert stages.best is not None and stages.best[0] == 2080.0
    assert stages.read_start is None  # read once


def test_failing_late_start_kills_the_child(
    kit: SimpleNamespace, solver_children: list[subprocess.Popen[bytes]]
) -> None:
    sc = _two_jobs(kit)

    def start():  # type: ignore[no-untyped-def]
        raise RuntimeError("greedy broke")

    with pytest.raises(RuntimeError, match="greedy broke"):
        solve_flat(flatten(sc, kit.rtt(sc)), time_limit_s=20, mip_gap=1e-9, start=start)
    assert len(solver_children) == 1 and solver_children[0].returncode is not None  # reaped, not left running
