"""Commitments are decisions with a term, a take-or-pay floor and an upfront fee; optima derived by hand."""

from __future__ import annotations

import pytest
from tests.horizon.kit import HOURS, START, near, offering, provider, scenario, service, site

from computemoat.model import CommitmentOption, DemandSeries, Horizon
from computemoat.planner.horizon import plan_horizon
from computemoat.reliability import FaultModel

OD = 2.0  # on-demand $/GPU-h
GPUS = 8  # one replica = one 8-GPU instance


def _one_service(periods: int, option: CommitmentOption, scale: tuple[float, ...] | None = None):
    demand = () if scale is None else (DemandSeries(service="chat", scale=scale),)
    h = Horizon(start=START, periods=periods, reserved_term_periods=None, commitments=(option,), demand=demand)
    return scenario([provider("a")], [site("a")], [offering("a:x", OD)], services=(service(),), horizon=h)


@pytest.mark.parametrize("periods", [1, 2, 3, 4, 6])
def test_commitment_with_upfront_pays_off_only_past_month_k(periods: int) -> None:
    # A term as long as the horizon at $1.50 plus $1,000 per GPU upfront vs $2.00 on demand, one 8-GPU
    # instance needed every month: committing saves 0.5 x 730 x 8 = $2,920 a month against $8,000 upfront,
    # so it pays off from month k = ceil(8000 / 2920) = 3 on.
    opt = CommitmentOption(
        id="c", offering="a:x:h100x8", term_periods=periods, usd_per_gpu_hour=1.5, upfront_usd_per_gpu=1000.0,
        latest_start_period=0,
    )  # fmt: skip
    result = plan_horizon(_one_service(periods, opt), near(_one_service(periods, opt)), faults=FaultModel.none())
    on_demand = OD * HOURS * GPUS * periods
    committed = 1000.0 * GPUS + 1.5 * HOURS * GPUS * periods
    assert result.plan.total_usd == pytest.approx(min(on_demand, committed), rel=1e-9)
    signed = [c.gpus for c in result.plan.commitments]
    assert signed == ([GPUS] if periods >= 3 else [])
    if signed:
        assert result.plan.commitments[0].utilization == pytest.approx(1.0)


@pytest.mark.parametrize(("share", "taken"), [(1.0, False), (0.5, False), (0.2, True), (0.0, True)])
def test_take_or_pay_floor_decides_whether_an_idle_term_is_signed(share: float, taken: bool) -> None:
    # Demand only in month 0 of 4. A 4-month term at $1.20 pays the floor every month:
    #   8 x 730 x 1.2 x (1 + 3 x share)  vs on demand 8 x 730 x 2.0 for month 0 alone.
    # share 1.0 -> $28,032 (refused); 0.5 -> $17,520 (refused); 0.2 -> $11,213 < $11,680 (signed).
    opt = CommitmentOption(id="c", offering="a:x:h100x8", term_periods=4, usd_per_gpu_hour=1.2,
                           take_or_pay_share=share, latest_start_period=0)  # fmt: skip
    sc = _one_service(4, opt, scale=(1.0, 0.0, 0.0, 0.0))
    result = plan_horizon(sc, near(sc), faults=FaultModel.none())
    on_demand = GPUS * HOURS * OD
    committed = GPUS * HOURS * 1.2 * (1 + 3 * share)
    assert result.plan.total_usd == pytest.approx(min(on_demand, committed), rel=1e-9)
    assert bool(result.plan.commitments) is taken
    if taken:
        assert result.plan.commitments[0].utilization == pytest.approx(0.25)


def test_minimum_commitment_is_all_or_nothing() -> None:
    # The offer needs at least 16 GPUs (2 instances) or nothing; demand needs one instance. 16 GPUs at
    # $1.10 for 2 months = $25,696 > 8 GPUs on demand $23,360: refused. At $0.90 ($21,024): signed at 16.
    for price, expect in ((1.1, []), (0.9, [16])):
        opt = CommitmentOption(id="c", offering="a:x:h100x8", term_periods=2, usd_per_gpu_hour=price, min_gpus=16)
        sc = _one_service(2, opt)
        result = plan_horizon(sc, near(sc), faults=FaultModel.none())
        assert [c.gpus for c in result.plan.commitments] == expect
        assert result.plan.total_usd == pytest.approx(min(GPUS * HOURS * OD * 2, 16 * HOURS * price * 2), rel=1e-9)


def test_reserved_price_becomes_a_term_commitment() -> None:
    # An offering's reserved price is a 3-month take-or-pay term (horizon.reserved_term_periods): with
    # demand in 2 of 3 months, 8 x 730 x (3 x 1.5) = $26,280 > on demand 8 x 730 x 2 x 2 = $23,360.
    h = Horizon(
        start=START, periods=3, reserved_term_periods=3, demand=(DemandSeries(service="chat", scale=(1, 1, 0)),)
    )
    sc = scenario([provider("a")], [site("a")], [offering("a:x", OD, usd_per_gpu_hour_reserved=1.5)],
                  services=(service(),), horizon=h)  # fmt: skip
    result = plan_horizon(sc, near(sc), faults=FaultModel.none())
    assert result.plan.commitments == ()
    assert result.plan.total_usd == pytest.approx(GPUS * HOURS * OD * 2)
    h3 = h.model_copy(update={"demand": ()})
    result = plan_horizon(sc.model_copy(update={"horizon": h3}), near(sc), faults=FaultModel.none())
    assert [c.option_id for c in result.plan.commitments] == ["reserved:a:x:h100x8"]
    assert result.plan.total_usd == pytest.approx(GPUS * HOURS * 1.5 * 3)
