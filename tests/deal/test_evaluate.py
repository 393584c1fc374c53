"""deal on a hand-worked case: a lab renting two 8-GPU instances a month at $2/GPU-h is offered 16 GPUs
by provider b at $1.20 for 6 months from month 1 (70% take-or-pay, minimum 8 GPUs), over 8 months."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from tests.horizon.kit import HOURS, NOMINAL, near, offering, provider, scenario, service, site

from computemoat.model import Horizon, Offer, OfferCapacity
from computemoat.planner.deal import DealSettings, evaluate_deal

UNIT = 8 * HOURS  # GPU-hours of one instance-month


def _case(p_withdraw: float = 0.0):  # type: ignore[no-untyped-def]
    h = Horizon(start=dt.date(2027, 1, 1), periods=8)
    sc = scenario([provider("a"), provider("b")], [site("a"), site("b", "y")], [offering("a:x", 2.0)],
                  services=(service(rps=2.0),), horizon=h)  # fmt: skip
    offer = Offer(name="t", provider="b", capacity=(OfferCapacity(site="b:y", accelerator="H100", capacity_gpus=16),),
                  usd_per_gpu_hour=1.2, term_months=6, take_or_pay_share=0.7, min_commit_gpus=8,
                  start=dt.date(2027, 2, 1), exposure_step_months=2,
                  withdrawal_probability_per_year=p_withdraw)  # fmt: skip
    return sc, offer


def _evaluate(p_withdraw: float = 0.0):  # type: ignore[no-untyped-def]
    sc, offer = _case(p_withdraw)
    return evaluate_deal(sc, offer, lambda s: near(s), DealSettings(faults=NOMINAL, mip_gap=1e-9))


def test_savings_break_even_exposure_and_landlord_by_hand() -> None:
    r = _evaluate()
    without = 2 * UNIT * 2.0 * 8  # everything at a: $186,880
    with_ = 2 * UNIT * 1.2 * 6 + 2 * UNIT * 2.0 * 2  # months 1-6 at b, months 0 and 7 at a: $130,816
    assert r.without.total_usd == pytest.approx(without)
    assert r.with_offer.total_usd == pytest.approx(with_)
    assert r.savings_usd == pytest.approx(without - with_)
    assert r.committed_gpus == 16
    assert r.savings_by_period_usd == pytest.approx((0,) + (2 * UNIT * 0.8,) * 6 + (0,))
    # break-even: committing beats $2 on demand at a until the term price reaches $2 (tolerance $0.01)
    assert r.break_even.usd_per_gpu_hour == pytest.approx(2.0, abs=r.break_even.tolerance_usd_per_gpu_hour + 1e-9)
    assert r.break_even.usd_per_gpu_hour <= 2.0
    # withdrawal at month m in {3, 5}: the months before m stay at b, the rest moves to a
    assert [p.month for p in r.exposure] == [3, 5]
    for p in r.exposure:
        assert p.savings_usd == pytest.approx(2 * UNIT * 0.8 * (p.month - 1))
        assert p.stranded_usd == 0.0
    # landlord: the whole offer used for the whole term at $1.20
    assert r.landlord_offered.revenue_usd == pytest.approx(2 * UNIT * 1.2 * 6)
    assert r.landlord_offered.utilization_of_offered == pytest.approx(1.0)
    assert r.expected_savings_usd == pytest.approx(r.savings_usd)  # no withdrawal risk


def test_withdrawal_risk_lowers_expected_savings_between_the_curve_and_the_full_saving() -> None:
    r = _evaluate(p_withdraw=0.5)
    worst = min(p.savings_usd for p in r.exposure)
    assert worst < r.expected_savings_usd < r.savings_usd
    p5, p50, p95 = r.savings_p5_p50_p95_usd
    assert worst <= p5 <= p50 <= p95 <= r.savings_usd + 1e-6
    # closed form of the hazard: P(no withdrawal during the 6-month term) = 0.5 ** (5 / 12) (months 2..6)
    assert np.isclose(p95, r.savings_usd)


def test_json_shape_is_stable() -> None:
    out = _evaluate().to_json()
    assert out["schema"] == "computemoat.deal/1"
    keys = ["without", "with_offer", "savings_usd", "savings_npv_usd", "break_even", "shares", "exposure"]
    keys += ["expected_savings_usd", "savings_p5_p50_p95_usd", "landlord_offered", "landlord_break_even"]
    assert set(keys) <= set(out)
    assert {s["provider"] for s in out["shares"]} == {"a", "b"}
    assert len(out["shares"][0]["gpu_share_with"]) == 8


@pytest.mark.parametrize("offered", [1.2, 1.5])  # below the break-even (signed) and above it (refused)
def test_break_even_closed_form_with_idle_take_or_pay_and_upfront(offered: float) -> None:
    """Oracle: closed form. The lab needs one 8-GPU instance a month (on demand at a: $2/GPU-h). b offers
    16 GPUs for months 1-6, all or nothing (minimum 16), 75% take-or-pay, $100/GPU upfront. Signing pays
    the floor 0.75 x 16 = 12 GPUs every term month whatever it uses (8 GPUs, under the floor, so nothing
    above it), so it beats on demand while 16 x 100 + 6 x 12 H p <= 6 x 8 H x 2:
    p* = (96 H - 1600) / (72 H) = $1.30289/GPU-h (below the on-demand price and the naive 8/16 x 2)."""
    h = Horizon(start=dt.date(2027, 1, 1), periods=8)
    sc = scenario([provider("a"), provider("b")], [site("a"), site("b", "y")], [offering("a:x", 2.0)],
                  services=(service(rps=1.0),), horizon=h)  # fmt: skip
    line = OfferCapacity(site="b:y", accelerator="H100", capacity_gpus=16)
    offer = Offer(name="idle", provider="b", capacity=(line,), usd_per_gpu_hour=offered, term_months=6,
                  take_or_pay_share=0.75, min_commit_gpus=16,
                  upfront_usd_per_gpu=100.0, start=dt.date(2027, 2, 1))  # fmt: skip
    r = evaluate_deal(sc, offer, lambda s: near(s), DealSettings(faults=NOMINAL, mip_gap=1e-9))
    p_star = (96 * HOURS - 1600) / (72 * HOURS)
    be = r.break_even.usd_per_gpu_hour
    assert be is not None
    assert be == pytest.approx(p_star, abs=r.break_even.tolerance_usd_per_gpu_hour)
    # on one linear piece of the signing plan's cost Newton lands on the root itself, not only within the step
    assert be == pytest.approx(p_star, abs=1e-6)
    assert r.break_even.tolerance_usd_per_gpu_hour == pytest.approx(max(0.01, 0.005 * offered), abs=1e-3)
    signed = offered < p_star
    assert r.committed_gpus == (16 if signed else 0)
    without = 8 * HOURS * 2.0 * 8
    assert r.without.total_usd == pytest.approx(without)
    with_ = 1600 + 6 * 12 * HOURS * offered + 2 * 8 * HOURS * 2.0 if signed else without
    assert r.with_offer.total_usd == pytest.approx(with_)
    lb = r.landlord_break_even
    assert lb is not None
    assert lb.revenue_usd == pytest.approx(1600 + 6 * 12 * HOURS * p_star)  # = what on demand would cost in months 1-6
    assert lb.committed_gpus == 16
    assert lb.utilization_of_offered == pytest.approx(0.5)
