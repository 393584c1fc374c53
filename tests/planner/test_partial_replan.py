"""Partial replan: what cannot be placed after a change is reported, everything else is replanned."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from computemoat.model import InfeasibleError, Scenario
from computemoat.planner import Change, highs_run, plan, replan, validate_plan


def _big_job_fleet(kit: SimpleNamespace) -> Scenario:
    # Only a has room for the 128-GPU job; b and c hold 64 each. Prices a < b < c.
    names, prices, caps = ["a", "b", "c"], [1.0, 1.5, 2.0], [192, 64, 64]
    return kit.scenario(
        providers=[kit.provider(n) for n in names],
        sites=[kit.site(n, "r1") for n in names],
        offerings=[kit.offering(f"{n}:r1", p, c) for n, p, c in zip(names, prices, caps, strict=True)],
        jobs=[kit.job("big", 128, hours=10), kit.job("s1", 64, hours=20), kit.job("s2", 64, hours=10)],
    )


def test_withdrawal_reports_the_job_that_cannot_move_and_moves_the_rest(kit: SimpleNamespace) -> None:
    sc = _big_job_fleet(kit)
    lat = kit.rtt(sc)
    before = plan(sc, lat).plan
    assert {p.job_id: p.provider for p in before.training} == {"big": "a", "s1": "a", "s2": "b"}
    result = replan(sc, before, Change(withdraw_providers=("a",)), lat, move_penalty_usd=100.0)
    assert [(u.workload_id, u.kind) for u in result.unplaced] == [("big", "training")]
    assert result.unplaced[0].reason == "needs 128 H100 at one site; largest remaining pool is 64 at b:r1:gpu8"
    # Hand-worked: s1 (20 h) must leave a. s1->c, s2 stays on b: 64x20x2.0 + 64x10x1.5 = 3,520 + one
    # move (100); s1->b, s2->c: 64x20x1.5 + 64x10x2.0 = 3,200 + two moves (200) <- optimum.
    assert {p.job_id: p.provider for p in result.plan.training} == {"s1": "b", "s2": "c"}
    assert result.plan.total_cost_usd == pytest.approx(3200.0)
    assert result.plan.unplaced == ("big",)
    assert any(n.startswith("unplaced: big: needs 128") for n in result.plan.notes)
    assert validate_plan(result.scenario, result.plan, lat) == []
    assert sum(p.cost_usd for p in result.plan.training) == pytest.approx(result.plan.total_cost_usd)


def test_without_allow_unplaced_the_same_change_is_infeasible(kit: SimpleNamespace) -> None:
    sc = _big_job_fleet(kit)
    lat = kit.rtt(sc)
    before = plan(sc, lat).plan
    with pytest.raises(InfeasibleError, match="training job big: no offering"):
        replan(sc, before, Change(withdraw_providers=("a",)), lat, allow_unplaced=False)


def test_capacity_shortage_unplaces_one_job_not_all(kit: SimpleNamespace) -> None:
    # Three 64-GPU jobs on a; without a only two fit (b, c: 64 each). The one left out is the one
    # whose placement would cost most (s1, 20 h): each unplaced job pays the same penalty.
    sc = _big_job_fleet(kit)
    lat = kit.rtt(sc)
    small = sc.model_copy(update={"training_jobs": (kit.job("s0", 64), *sc.training_jobs[1:])})
    before = plan(small, lat).plan
    result = replan(small, before, Change(withdraw_providers=("a",)), lat)
    assert sorted(p.job_id for p in result.plan.training) == ["s0", "s2"]
    assert [(u.workload_id, u.kind) for u in result.unplaced] == [("s1", "training")]
    assert "capacity" in result.unplaced[0].reason
    assert validate_plan(result.scenario, result.plan, lat) == []


def test_lost_redundancy_is_flagged_and_demand_still_served(kit: SimpleNamespace) -> None:
    # N+1 over a and b (c is beyond the SLO). Withdraw a: b alone serves all 95 rps, N+1 is flagged.
    sc = kit.scenario(
        providers=[kit.provider("a"), kit.provider("b"), kit.provider("c")],
        sites=[kit.site("a", "r1"), kit.site("b", "r1"), kit.site("c", "far")],
        offerings=[kit.offering("a:r1", 2.0, 64), kit.offering("b:r1", 3.0, 64), kit.offering("c:far", 0.5, 64)],
        services=[kit.service("chat", {"NYC": 95.0}, k=1, slo_ms=50)],
    )
    lat = kit.rtt(sc, {("NYC", "c:far"): 120.0})
    before = plan(sc, lat).plan
    result = replan(sc, before, Change(withdraw_providers=("a",)), lat)
    assert {p.offering_id: p.replicas for p in result.plan.inference} == {"b:r1:gpu8": 10}
    assert sum(a.rps for a in result.plan.assignments) == pytest.approx(95.0)
    [u] = result.unplaced
    assert (u.workload_id, u.kind, u.unserved_rps) == ("chat", "inference", 0.0)
    assert u.reason.startswith("N+1 needs 2 providers within 50 ms; 1 remain (b)")
    assert result.plan.unplaced == ("chat",)
    assert validate_plan(result.scenario, result.plan, lat) == []


def test_child_process_solver_gives_the_same_exact_optimum(kit: SimpleNamespace, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # The hand-worked instance of test_milp_optimum, solved in the killable child process.
    monkeypatch.setattr(highs_run, "IN_PROCESS_MAX_COLS", 0)
    sc = kit.scenario(
        providers=[kit.provider("a"), kit.provider("b")],
        sites=[kit.site("a", "r1"), kit.site("b", "r1")],
        offerings=[kit.offering("a:r1", 2.0, 64), kit.offering("b:r1", 3.0, 64)],
        jobs=[kit.job("j1", 32), kit.job("j2", 48)],
    )
    r = plan(sc, kit.rtt(sc))
    assert {p.job_id: p.offering_id for p in r.plan.training} == {"j1": "b:r1:gpu8", "j2": "a:r1:gpu8"}
    assert r.plan.total_cost_usd == pytest.approx(1920.0)
    assert r.plan.status == "optimal"
