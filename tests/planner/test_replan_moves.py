"""Replan after a change: valid, and moves fewer workloads than planning from scratch."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from computemoat.model import Scenario, UserError
from computemoat.planner import Change, apply_change, plan, replan, validate_plan
from computemoat.planner.replan import diff_plans


def _four_providers(kit: SimpleNamespace) -> Scenario:
    # Three 64-GPU jobs of 30/20/10 h; prices a<b<c<d. Optimum: longest job on the cheapest offering.
    names = ["a", "b", "c", "d"]
    return kit.scenario(
        providers=[kit.provider(n) for n in names],
        sites=[kit.site(n, "r1") for n in names],
        offerings=[kit.offering(f"{n}:r1", p, 64) for n, p in zip(names, [1.0, 1.1, 1.2, 1.5], strict=True)],
        jobs=[kit.job("j30", 64, hours=30), kit.job("j20", 64, hours=20), kit.job("j10", 64, hours=10)],
    )


def test_withdraw_moves_only_the_displaced_job(kit: SimpleNamespace) -> None:
    sc = _four_providers(kit)
    lat = kit.rtt(sc)
    before = plan(sc, lat).plan
    assert {p.job_id: p.provider for p in before.training} == {"j30": "a", "j20": "b", "j10": "c"}
    change = Change(withdraw_providers=("a",))
    scratch = plan(apply_change(sc, change), lat).plan
    scratch_moves = diff_plans(before, scratch)
    assert len(scratch_moves) == 3  # everyone shifts one step down the price list
    # Lexicographic (issue 11 item 5). Cheapest: 64 x (30 x 1.1 + 20 x 1.2 + 10 x 1.5) = $4,608 with
    # 3 moves; one move (j30 -> d) costs 64 x (30 x 1.5 + 20 x 1.1 + 10 x 1.2) = $5,056, +9.7%.
    tight = replan(sc, before, change, lat)  # default tolerance 0.5%: the cheapest plan stands
    assert tight.plan.total_cost_usd == pytest.approx(4608.0)
    assert len(tight.moves) == 3
    result = replan(sc, before, change, lat, cost_tolerance=0.10)  # 10% allows the one-move plan
    assert [(m.workload_id, m.from_offering, m.to_offering) for m in result.moves] == [
        ("j30", "a:r1:gpu8", "d:r1:gpu8")
    ]
    assert result.plan.total_cost_usd == pytest.approx(5056.0)
    assert len(result.moves) < len(scratch_moves)
    assert validate_plan(result.scenario, result.plan, lat) == []
    assert "a" not in {p.provider for p in result.plan.training}


def test_default_penalty_still_yields_a_valid_plan(kit: SimpleNamespace) -> None:
    sc = _four_providers(kit)
    lat = kit.rtt(sc)
    before = plan(sc, lat).plan
    result = replan(sc, before, Change(withdraw_providers=("b",)), lat)
    assert validate_plan(result.scenario, result.plan, lat) == []
    assert any(m.workload_id == "j20" for m in result.moves)


def test_apply_change_scales_capacity_and_prices(kit: SimpleNamespace) -> None:
    sc = _four_providers(kit)
    out = apply_change(sc, Change(capacity_factor={"a:r1:gpu8": 0.5, "b:r1:gpu8": 0.0}, price_factor={"c": 2.0}))
    by_id = {o.id: o for o in out.offerings}
    assert by_id["a:r1:gpu8"].capacity_gpus == 32
    assert "b:r1:gpu8" not in by_id
    assert by_id["c:r1:gpu8"].usd_per_gpu_hour_on_demand == pytest.approx(2.4)
    assert by_id["d:r1:gpu8"].usd_per_gpu_hour_on_demand == pytest.approx(1.5)


def test_apply_change_rejects_unknown_names(kit: SimpleNamespace) -> None:
    with pytest.raises(UserError, match="unknown provider 'zz'"):
        apply_change(_four_providers(kit), Change(withdraw_providers=("zz",)))
