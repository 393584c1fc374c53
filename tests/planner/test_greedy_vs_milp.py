"""Greedy (per-workload cheapest) breaks fleet-wide rules the MILP keeps, and is never cheaper when valid."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from computemoat.model import Policy
from computemoat.planner import greedy_plan, plan, validate_plan


def test_greedy_breaks_the_cap_and_redundancy_the_milp_keeps(kit: SimpleNamespace) -> None:
    # a is cheapest for everything: greedy puts all on a (breaks 70% GPU cap, no N+1 for the service).
    sc = kit.scenario(
        providers=[kit.provider("a"), kit.provider("b")],
        sites=[kit.site("a", "r1"), kit.site("b", "r1")],
        offerings=[kit.offering("a:r1", 1.0, 256), kit.offering("b:r1", 1.3, 256)],
        jobs=[kit.job("j1", 64), kit.job("j2", 64)],
        services=[kit.service("chat", {"NYC": 50.0}, k=1)],
        policy=Policy(max_provider_share_gpus=0.7),
    )
    lat = kit.rtt(sc)
    greedy = greedy_plan(sc, lat)
    assert greedy.unplaced == ()
    assert {p.provider for p in (*greedy.plan.training, *greedy.plan.inference)} == {"a"}
    assert {v.kind for v in validate_plan(sc, greedy.plan, lat)} == {"gpu_cap", "redundancy"}
    milp = plan(sc, lat)
    assert validate_plan(sc, milp.plan, lat) == []
    assert milp.plan.total_cost_usd > greedy.plan.total_cost_usd  # safety costs money


def test_milp_never_costlier_than_a_valid_greedy(kit: SimpleNamespace) -> None:
    # Order matters for greedy: j-small takes the cheap offering first and j-big has to pay more.
    sc = kit.scenario(
        providers=[kit.provider("a"), kit.provider("b")],
        sites=[kit.site("a", "r1"), kit.site("b", "r1")],
        offerings=[kit.offering("a:r1", 1.0, 64), kit.offering("b:r1", 2.0, 64)],
        jobs=[kit.job("j-small", 16, hours=10), kit.job("j-big", 64, hours=100)],
    )
    lat = kit.rtt(sc)
    greedy = greedy_plan(sc, lat)
    assert validate_plan(sc, greedy.plan, lat) == []
    milp = plan(sc, lat)
    assert greedy.plan.total_cost_usd == pytest.approx(16 * 10 * 1.0 + 64 * 100 * 2.0)
    assert milp.plan.total_cost_usd == pytest.approx(16 * 10 * 2.0 + 64 * 100 * 1.0)


def test_greedy_reports_what_it_cannot_place(kit: SimpleNamespace) -> None:
    sc = kit.scenario(
        providers=[kit.provider("a")],
        sites=[kit.site("a", "r1")],
        offerings=[kit.offering("a:r1", 1.0, 64)],
        jobs=[kit.job("first", 48), kit.job("second", 48)],
    )
    greedy = greedy_plan(sc, kit.rtt(sc))
    assert greedy.unplaced == ("second",)
    assert [p.job_id for p in greedy.plan.training] == ["first"]
