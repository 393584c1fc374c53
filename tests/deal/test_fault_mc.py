"""The deal's Monte-Carlo over withdrawal timing *and* the simulator's faults (sim/deal.py) on a hand-worked
case: a lab serving 8 GPUs of inference a month and training one 8-GPU, 500-hour job in month 1 (window:
February) is offered 16 GPUs by provider b at $1.20 for months 1-6 (all or nothing, 50% take-or-pay)
against $2.00 on demand at a. Signing runs the inference and the job on b's committed GPUs in the term:
without = 8 x 730 x 2 x 8 + 8 x 500 x 2; with = 2 x 8 x 730 x 2 (months 0, 7) + 5 x 0.5 x 16 x 730 x 1.2
(the floor) + 16 x 730 x 1.2 (month 1: the job holds its 8 GPUs for the whole period, on top of the 8
serving)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest
from tests.horizon.kit import HOURS, NOMINAL, job, near, offering, provider, scenario, service, site

from computemoat.model import Horizon, Offer, OfferCapacity, Scenario, Tier, TrainingWindow
from computemoat.planner.deal import DealResult, DealSettings, apply_offer, evaluate_deal, withdrawal_timing
from computemoat.reliability import FaultModel, GpuInterruptions, ProviderFaults, job_reliability
from computemoat.sim.deal import fault_monte_carlo

WORK_H = 500.0
SAVINGS = 8 * HOURS * 2 * 8 + 8 * WORK_H * 2 - (2 * 8 * HOURS * 2 + 5 * 0.5 * 16 * HOURS * 1.2 + 16 * HOURS * 1.2)
NO_OUTAGES = {"a": ProviderFaults(outages_per_year=0.0), "b": ProviderFaults(outages_per_year=0.0)}


def _case(price: float = 1.2, p_withdraw: float = 0.0) -> tuple[Scenario, Offer]:
    window = TrainingWindow(job="train", earliest_start=dt.date(2027, 2, 1), deadline=dt.date(2027, 3, 1))
    h = Horizon(start=dt.date(2027, 1, 1), periods=8, training_windows=(window,))
    sc = scenario([provider("a"), provider("b")], [site("a"), site("b", "y")], [offering("a:x", 2.0)],
                  services=(service(rps=1.0),), jobs=(job(gpus=8, hours=WORK_H),), horizon=h)  # fmt: skip
    offer = Offer(name="t", provider="b", capacity=(OfferCapacity(site="b:y", accelerator="H100", capacity_gpus=16),),
                  usd_per_gpu_hour=price, term_months=6, take_or_pay_share=0.5, min_commit_gpus=16,
                  start=dt.date(2027, 2, 1), exposure_step_months=2,
                  withdrawal_probability_per_year=p_withdraw)  # fmt: skip
    return sc, offer


_SOLVED: dict[tuple[float, float, int], tuple[Scenario, Offer, DealResult]] = {}


def _deal(
    price: float = 1.2, p_withdraw: float = 0.0, faults: FaultModel = NOMINAL
) -> tuple[Scenario, Offer, DealResult]:
    """The case planned with ``faults`` (solved once per module run)."""
    key = (price, p_withdraw, id(faults))
    if key not in _SOLVED:
        sc, offer = _case(price, p_withdraw)
        _SOLVED[key] = sc, offer, evaluate_deal(sc, offer, lambda s: near(s), DealSettings(faults=faults, mip_gap=1e-9))
    return _SOLVED[key]


# λ = 0.05 interruptions per hour on the 8-GPU job, 15-minute restarts, nothing else: the closed form of
# reliability.job_reliability is exact here (tests/sim/test_sim_matches_reliability.py), ~6% overhead
EXACT = FaultModel(gpu=GpuInterruptions(gpu_hours_per_interruption=8 / 0.05, restart_overhead_s=900), domains=(),
                   providers=NO_OUTAGES)  # fmt: skip


def _expected_hours(faults: FaultModel, prov: str) -> float:
    return job_reliability(faults, job_id="train", work_hours=WORK_H, checkpoint_write_s=300.0, gpus=8,
                           tier=Tier.on_demand, gpus_per_instance=8, provider=prov).expected_hours  # fmt: skip


def test_the_hand_case_signs_and_trains_on_the_commitment() -> None:
    _, _, r = _deal()
    assert r.savings_usd == pytest.approx(SAVINGS)
    (run,) = r.with_offer.training
    assert (run.provider, run.tier, run.start_period, run.usd_per_gpu_hour) == ("b", "committed", 1, 1.2)
    (base,) = r.without.training
    assert (base.provider, base.tier, base.usd_per_gpu_hour) == ("a", "on_demand", pytest.approx(2.0))
    # each exposure point keeps its re-plan's training runs (the job ran in month 1, before any withdrawal)
    assert [p.month for p in r.exposure] == [3, 5] and all(p.training == r.with_offer.training for p in r.exposure)
    assert r.to_json()["exposure"][0]["training"][0]["offering_id"] == run.offering_id


def test_same_seed_same_draws_and_identical_plans_differ_by_exactly_nothing() -> None:
    """Oracle: common random numbers. The offer at $2.50 is refused, so the plan with it is the plan
    without it: in every draw both see the same faults, and the savings are exactly the planned $0."""
    sc, offer, r = _deal(price=2.5)
    assert r.committed_gpus == 0 and r.with_offer.training == r.without.training
    mc = fault_monte_carlo(sc, offer, r, faults=EXACT, draws=60, seed=3, use_ray=False)
    again = fault_monte_carlo(sc, offer, r, faults=EXACT, draws=60, seed=3, use_ray=False)
    assert dataclasses.replace(mc, elapsed_s=0.0) == dataclasses.replace(again, elapsed_s=0.0)
    without, with_ = mc.plans
    assert without.overrun_usd_p5_p50_p95[0] < without.overrun_usd_p5_p50_p95[2]  # faults do act on the job
    assert dataclasses.replace(without, plan="") == dataclasses.replace(with_, plan="")
    assert mc.savings_p5_p50_p95_usd == (0.0, 0.0, 0.0) and mc.savings_mean_usd == 0.0
    other = fault_monte_carlo(sc, offer, r, faults=EXACT, draws=60, seed=4, use_ray=False)
    assert other.plans[0].overrun_usd_mean != without.overrun_usd_mean  # another seed, other draws


def test_mean_simulated_overrun_is_zero_within_its_interval_when_planned_with_the_same_model() -> None:
    """Oracle: closed form. The planner plans each run's expected wall-clock hours with the simulator's
    own model (reliability.job_reliability), so the mean of completion - expected_hours over many seeds
    is 0 within the Monte-Carlo error, for both plans; nominal hours would be far off."""
    sc, offer, r = _deal(faults=EXACT)
    (run,) = r.without.training
    assert run.expected_hours == pytest.approx(_expected_hours(EXACT, "a"))
    mc = fault_monte_carlo(sc, offer, r, faults=EXACT, draws=400, seed=1, use_ray=False)
    for plan, (prov, rate) in zip(mc.plans, (("a", 2.0), ("b", 1.2)), strict=True):
        lo, hi = plan.overrun_usd_ci95
        se = (hi - lo) / (2 * 1.959964)
        assert abs(plan.overrun_usd_mean) <= 3.3 * se, (plan, se)
        assert (_expected_hours(EXACT, prov) - WORK_H) * 8 * rate > 20 * se  # the test has power
        assert plan.deadline_miss_share == 0.0  # ~530 h expected, deadline 730 h (the end of February)


def test_an_unreliable_landlord_costs_its_closed_form_extra_hours_at_the_term_price() -> None:
    """Oracle: closed form. Planned without outages anywhere; simulated with b's site down 400 times a
    year for 1 h each (4.6% of the time; short fixed outages, where job_reliability's first-order outage
    term is accurate). The job on b's commitment then runs E_b - E_planned hours longer on average
    (job_reliability under the simulated model), each GPU-hour at the $1.20 term price; the job at a in
    the plan without the offer runs as planned. The savings drop by exactly that much on average."""
    sc, offer, r = _deal(faults=EXACT)
    shaky = EXACT.model_copy(update={"outage_duration_sigma": 0.0, "providers": {
        **NO_OUTAGES, "b": ProviderFaults(outages_per_year=400.0, outage_mean_hours=1.0)}})  # fmt: skip
    mc = fault_monte_carlo(sc, offer, r, faults=shaky, draws=400, seed=1, use_ray=False)
    extra_usd = (_expected_hours(shaky, "b") - _expected_hours(EXACT, "b")) * 8 * 1.2
    lo, hi = mc.savings_mean_ci95_usd
    se = (hi - lo) / (2 * 1.959964)
    assert extra_usd > 30 * se  # ~54 hours late: far above the noise
    assert abs(mc.savings_mean_usd - (r.savings_usd - extra_usd)) <= 3.3 * se, (mc, extra_usd)
    assert mc.savings_p5_p50_p95_usd[1] < r.savings_usd - extra_usd / 2
    without, with_ = mc.plans
    assert abs(without.overrun_usd_mean) <= 3.3 * (without.overrun_usd_ci95[1] - without.overrun_usd_mean) / 1.959964
    assert with_.overrun_usd_mean == pytest.approx(extra_usd, abs=3.3 * se)


def test_without_random_faults_the_draws_are_the_withdrawal_timing_draws() -> None:
    """Oracle: the timing-only Monte-Carlo. With nothing random the job takes exactly its planned hours in
    every plan, so each draw's savings are the exposure curve at its withdrawal period (same seed, same
    periods as evaluate_deal's draws)."""
    sc, offer, r = _deal(p_withdraw=0.5)
    nothing = FaultModel(random_faults=False, checkpoint_interval_s={"train": 1e9})  # no checkpoint in 500 h
    mc = fault_monte_carlo(sc, offer, r, faults=nothing, draws=300, seed=0, use_ray=False)
    timing = withdrawal_timing(sc, offer, r)
    draws = timing.savings_usd_at(timing.draw_periods(300, 0))
    assert mc.savings_p5_p50_p95_usd == tuple(np.percentile(draws, [5, 50, 95]))
    assert mc.savings_mean_usd == pytest.approx(float(draws.mean()))
    assert 0 < mc.withdrawals < 300 and all(p.overrun_usd_mean == 0.0 for p in mc.plans)
    assert mc.window_hours == 3 * WORK_H  # 3 x the longest expected hours (above the 730-h deadline)


def test_ray_only_distributes_the_draws() -> None:
    """Oracle: the in-process run. The same seeds on Ray give the same numbers."""
    pytest.importorskip("ray")
    sc, offer, r = _deal(faults=EXACT, p_withdraw=0.5)
    here = fault_monte_carlo(sc, offer, r, faults=EXACT, draws=24, seed=5, use_ray=False)
    on_ray = fault_monte_carlo(sc, offer, r, faults=EXACT, draws=24, seed=5, use_ray=True, num_cpus=2)
    assert (here.runner, on_ray.runner) == ("in-process", "ray")
    assert dataclasses.replace(on_ray, runner="", elapsed_s=0.0) == dataclasses.replace(here, runner="", elapsed_s=0.0)


def test_deadline_misses_are_the_simulators_own_deadline_checks() -> None:
    """Oracle: the simulator's met_deadline. The window's deadline (March 1) is 730 h after the run's
    February start; with b down 25% of the time the job there often ends later. The share of draws
    that miss equals the share of plain `simulate` runs of that placement, with deadline_hours = 730,
    that do not meet it (same seeds); the plan without the offer, at reliable a, never misses."""
    from computemoat.model import Plan, PlanStatus, TrainingPlacement
    from computemoat.sim import simulate
    from computemoat.sim.deal import _deadline_hours

    sc, offer, r = _deal(faults=EXACT)
    (run,) = r.with_offer.training
    assert _deadline_hours(sc, offer, run) == pytest.approx(HOURS)  # one whole period from February 1
    shaky = EXACT.model_copy(update={"outage_duration_sigma": 0.0, "providers": {
        **NO_OUTAGES, "b": ProviderFaults(outages_per_year=100.0, outage_mean_hours=24.0)}})  # fmt: skip
    mc = fault_monte_carlo(sc, offer, r, faults=shaky, draws=100, seed=0, use_ray=False)
    sim_sc = sc.model_copy(update={"training_jobs": (job(gpus=8, hours=WORK_H, deadline_hours=HOURS),)})
    sim_sc = apply_offer(sim_sc, offer).model_copy(update={"inference_services": ()})
    placement = TrainingPlacement(job_id="train", offering_id=run.offering_id, site_id="b:y", provider="b",
                                  tier=Tier.reserved, gpus=8, cost_usd=1.0)  # fmt: skip
    plan = Plan(scenario=sim_sc.name, status=PlanStatus.optimal, total_cost_usd=1.0, training=(placement,))
    met = [simulate(sim_sc, plan, shaky, months=mc.window_hours / HOURS, seed=s).job_rows[0]["met_deadline"]
           for s in range(100)]  # fmt: skip
    without, with_ = mc.plans
    assert 0.1 < with_.deadline_miss_share < 0.9 and without.deadline_miss_share == 0.0
    assert with_.deadline_miss_share == pytest.approx(1 - np.mean(met))
