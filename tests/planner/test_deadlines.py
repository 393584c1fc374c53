"""Issue 11 item 4: plans use expected wall-clock hours from the shared failure/checkpoint model
(computemoat.reliability.job_reliability, the simulator's model): deadlines are checked on them,
training is billed on them, and plan output shows expected vs nominal hours.

Oracle: job_reliability's closed form (Daly's exact expected wall-clock hours), which
tests/sim/test_sim_matches_reliability.py checks against the simulator's Monte-Carlo mean."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from computemoat.model import InfeasibleError, Tier
from computemoat.planner import ViolationKind, plan, validate_plan
from computemoat.reliability import FaultModel, job_reliability

FAULTS = FaultModel()  # the bundled defaults: Llama 3 interruption rates, AWS spot preemption rate


def _rel(gpus: int, hours: float, tier: Tier) -> float:
    return job_reliability(
        FAULTS,
        job_id="j",
        work_hours=hours,
        checkpoint_write_s=300.0,
        gpus=gpus,
        tier=tier,
        gpus_per_instance=8,
        provider="a",
    ).expected_hours


def _scenario(kit: SimpleNamespace, deadline: float | None) -> object:
    return kit.scenario(
        providers=[kit.provider("a")],
        sites=[kit.site("a", "r1")],
        offerings=[kit.offering("a:r1", 2.0, 512, spot=0.8)],
        jobs=[kit.job("j", 512, hours=200.0, spot_allowed=True, deadline_hours=deadline)],
    )


def test_training_is_billed_on_expected_hours(kit: SimpleNamespace) -> None:
    sc = _scenario(kit, None)
    r = plan(sc, kit.rtt(sc), mip_gap=1e-9, faults=FAULTS)
    (tp,) = r.plan.training
    expected = _rel(512, 200.0, tp.tier)
    assert tp.nominal_hours == 200.0 and tp.expected_hours == pytest.approx(expected)
    assert expected > 200.0 * 1.01  # 512 GPUs at Llama 3 rates: interruptions every few hours
    price = 0.8 if tp.tier == Tier.spot else 2.0
    assert tp.cost_usd == pytest.approx(512 * expected * price)
    assert validate_plan(sc, r.plan, kit.rtt(sc), faults=FAULTS) == []


def test_a_deadline_the_spot_tier_misses_in_expectation_forces_on_demand(kit: SimpleNamespace) -> None:
    spot_h, od_h = _rel(512, 200.0, Tier.spot), _rel(512, 200.0, Tier.on_demand)
    assert od_h < spot_h  # spot adds expected preemption overhead
    deadline = (od_h + spot_h) / 2
    sc = _scenario(kit, deadline)
    lat = kit.rtt(sc)
    r = plan(sc, lat, mip_gap=1e-9, faults=FAULTS)
    (tp,) = r.plan.training
    assert tp.tier == Tier.on_demand and tp.expected_hours == pytest.approx(od_h)
    assert od_h < deadline
    # the cheaper spot placement, written by hand, misses the deadline in expectation
    spot = tp.model_copy(update={"tier": Tier.spot, "expected_hours": spot_h, "cost_usd": 512 * spot_h * 0.8})
    bad = r.plan.model_copy(update={"training": (spot,), "total_cost_usd": spot.cost_usd})
    assert [v.kind for v in validate_plan(sc, bad, lat, faults=FAULTS)] == [ViolationKind.deadline]


def test_no_placement_meets_the_deadline_in_expectation(kit: SimpleNamespace) -> None:
    sc = _scenario(kit, 201.0)  # nominal 200 h fits; expected hours do not
    with pytest.raises(InfeasibleError, match="misses deadline_hours 201 in expectation"):
        plan(sc, kit.rtt(sc), faults=FAULTS, time_limit_s=20)
