"""Evaluate an offer: the plan with and without it, savings (nominal and NPV), the break-even price,
provider shares per period against the caps, the exposure to a withdrawal, and the landlord's view.

Break-even price: the highest term price at which the best plan still signs at least the offer's
minimum commitment, found by Newton's method on the cost of the best signing plan (planner/deal/
break_even.py has the method and its tolerance).

Exposure: the provider withdraws at period m (policy shift). Everything before m stays as planned
(``replan_from``: what ran, was rented, was signed), the offer delivers nothing from m and no payment is
owed from m; the rest of the horizon is re-planned. The curve gives, for m on a grid every
``exposure_step_months``, the stranded commitment (the unamortized upfront), the re-plan's extra cost
and the savings left. Withdrawal arrives at a constant hazard (``withdrawal_probability_per_year``);
savings between grid points are interpolated linearly (planner/deal/withdrawal.py); the expected
savings is exact over that distribution, the P5/P50/P95 here a Monte-Carlo of the withdrawal period
alone. sim/deal.py adds the simulator's faults on the training runs of each plan (``faults_mc``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from computemoat.model import Offer, Scenario
from computemoat.planner.deal.apply import (
    apply_offer,
    offer_horizon,
    offer_option_ids,
    start_period,
    term_periods,
    without_offer,
)
from computemoat.planner.deal.break_even import Signing, break_even, solve_signing
from computemoat.planner.deal.result import DealResult, ExposurePoint, LandlordView, ShareSeries
from computemoat.planner.deal.withdrawal import WithdrawalTiming, hazard_per_period
from computemoat.planner.horizon import HorizonPlan, HorizonSolution, flatten_horizon, plan_horizon, replan_from
from computemoat.planner.horizon.formulation import build
from computemoat.planner.horizon.solve import solve_model
from computemoat.reliability import FaultModel

RttFn = Callable[[Scenario], np.ndarray]
MONTE_CARLO_DRAWS = 10_000


@dataclass(frozen=True)
class DealSettings:
    faults: FaultModel | None = None  # None: the simulator's default failure/checkpoint model
    time_limit_s: float = 60.0
    mip_gap: float = 0.005
    seed: int = 0


def evaluate_deal(scenario: Scenario, offer: Offer, rtt_fn: RttFn, settings: DealSettings | None = None) -> DealResult:
    cfg = settings or DealSettings()
    t0 = time.perf_counter()
    base = without_offer(scenario, offer)
    with_sc = apply_offer(scenario, offer)
    rtt_base, rtt_with = rtt_fn(base), rtt_fn(with_sc)

    def solve(sc: Scenario, rtt: np.ndarray, start: HorizonSolution | None = None) -> HorizonSolution:
        return plan_horizon(sc, rtt, faults=cfg.faults, time_limit_s=cfg.time_limit_s, mip_gap=cfg.mip_gap,
                            start=start)  # fmt: skip

    without = solve(base, rtt_base)
    solves = 1

    def sign_at(price: float, start: HorizonSolution | None) -> Signing | None:
        nonlocal solves
        solves += 1
        model = build(flatten_horizon(apply_offer(scenario, offer, usd_per_gpu_hour=price), rtt_with, cfg.faults))
        return solve_signing(model, lambda m: solve_model(m, time_limit_s=cfg.time_limit_s, mip_gap=cfg.mip_gap,
                                                          start=start), offer, price)  # fmt: skip

    p0 = offer.usd_per_gpu_hour
    first = sign_at(p0, None)
    # The lab's choice at the offered price: sign (the best signing plan) or not (the plan without the
    # offer), whichever is cheaper. This is the free model's optimum, min(W, F(p0)), without solving the
    # free model, whose LP takes the all-or-minimum commitment fractionally (18 s instead of 2 s at $1.30).
    with_ = first.solution if first is not None and first.objective_usd < without.plan.objective_usd else without
    breakeven, last = break_even(without, first, sign_at, max(0.01, 0.005 * p0))
    at_breakeven = None if last is None else (last.solution.plan, last.usd_per_gpu_hour)
    curve = _exposure(scenario, offer, with_, without.plan, rtt_with, cfg)
    solves += len(curve)
    h = offer_horizon(scenario, offer)
    assert h is not None
    savings = without.plan.total_usd - with_.plan.total_usd
    timing = WithdrawalTiming(start_period(h, offer), term_periods(h, offer),
                              hazard_per_period(offer.withdrawal_probability_per_year, h.period.months), savings,
                              curve)  # fmt: skip
    p5, p50, p95 = np.percentile(timing.savings_usd_at(timing.draw_periods(MONTE_CARLO_DRAWS, cfg.seed)), [5, 50, 95])
    return DealResult(
        offer=offer.name,
        provider=offer.provider,
        scenario=scenario.name,
        periods=with_.plan.periods,
        offered_usd_per_gpu_hour=offer.usd_per_gpu_hour,
        without=without.plan,
        with_offer=with_.plan,
        savings_usd=savings,
        savings_npv_usd=without.plan.objective_usd - with_.plan.objective_usd,
        savings_by_period_usd=tuple(
            a - b for a, b in zip(without.plan.spend_per_period(), with_.plan.spend_per_period(), strict=True)
        ),
        committed_gpus=_committed(offer, with_.plan),
        break_even=breakeven,
        shares=_shares(scenario, without.plan, with_.plan),
        exposure=curve,
        withdrawal_probability_per_year=offer.withdrawal_probability_per_year,
        expected_savings_usd=timing.expected_savings_usd(),
        savings_p5_p50_p95_usd=(float(p5), float(p50), float(p95)),
        landlord_offered=_landlord(offer, with_.plan, p0, p0),
        landlord_break_even=None
        if at_breakeven is None or breakeven.usd_per_gpu_hour is None
        else _landlord(offer, at_breakeven[0], at_breakeven[1], breakeven.usd_per_gpu_hour),
        solves=solves,
        elapsed_s=time.perf_counter() - t0,
    )


def _committed(offer: Offer, plan: HorizonPlan) -> int:
    ids = set(offer_option_ids(offer))
    return sum(c.gpus for c in plan.commitments if c.option_id in ids)


def taken(offer: Offer, plan: HorizonPlan) -> bool:
    return _committed(offer, plan) >= max(1, offer.min_commit_gpus)


def _exposure(
    scenario: Scenario, offer: Offer, with_: HorizonSolution, without: HorizonPlan, rtt: np.ndarray, cfg: DealSettings
) -> tuple[ExposurePoint, ...]:
    h = offer_horizon(scenario, offer)
    assert h is not None
    first, term = start_period(h, offer), term_periods(h, offer)
    step = max(1, offer.exposure_step_months // h.period.months)
    gpus = _committed(offer, with_.plan)
    if gpus == 0:
        return ()
    out = []
    for m in range(first + step, first + term, step):
        cut = apply_offer(scenario, offer, until_period=m)
        replan = replan_from(with_, cut, rtt, from_period=m, faults=cfg.faults, time_limit_s=cfg.time_limit_s,
                             mip_gap=cfg.mip_gap).plan  # fmt: skip
        stranded = offer.upfront_usd_per_gpu * gpus * (1 - (m - first) / term)
        out.append(
            ExposurePoint(
                period=m,
                month=m * h.period.months,
                date=h.period_start(m).isoformat(),
                stranded_usd=stranded,
                replan_extra_usd=replan.total_usd - with_.plan.total_usd,
                savings_usd=without.total_usd - replan.total_usd,
                training=replan.training,
            )
        )
    return tuple(out)


def _shares(scenario: Scenario, without: HorizonPlan, with_: HorizonPlan) -> tuple[ShareSeries, ...]:
    names = sorted(set(without.spend_usd_by_provider) | set(with_.spend_usd_by_provider))
    pol = scenario.policy
    return tuple(
        ShareSeries(
            provider=p,
            spend_share_without=without.spend_share(p),
            spend_share_with=with_.spend_share(p),
            gpu_share_without=without.gpu_share(p),
            gpu_share_with=with_.gpu_share(p),
            spend_cap=pol.max_provider_share_spend,
            gpu_cap=pol.max_provider_share_gpus,
        )
        for p in names
    )


def _landlord(offer: Offer, plan: HorizonPlan, solved_usd_per_gpu_hour: float, price: float) -> LandlordView:
    """The landlord's view of ``plan`` (solved at ``solved_usd_per_gpu_hour``) billed at ``price``: the
    upfront is fixed, the rest of what the lab pays scales with the term price."""
    ids = set(offer_option_ids(offer))
    signed = [c for c in plan.commitments if c.option_id in ids]
    offered = sum(line.capacity_gpus for line in offer.capacity) * (signed[0].term_periods if signed else 0)
    used = sum(c.used_gpu_periods for c in signed)
    upfront = sum(offer.upfront_usd_per_gpu * c.gpus for c in signed)
    billed = sum(c.paid_usd for c in signed) - upfront
    scale = price / solved_usd_per_gpu_hour if solved_usd_per_gpu_hour > 0 else 1.0
    return LandlordView(
        usd_per_gpu_hour=price,
        revenue_usd=upfront + billed * scale,
        committed_gpus=sum(c.gpus for c in signed),
        utilization_of_offered=used / offered if offered else 0.0,
        utilization_of_committed=used / sum(c.gpus * c.term_periods for c in signed) if signed else 0.0,
    )
