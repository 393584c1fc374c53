"""Training windows, gang periods, expected wall-clock hours, per-period capacity/prices and data-gravity
egress; each optimum derived by hand (or from the shared reliability model, named where used)."""

from __future__ import annotations

import datetime as dt

import pytest
from tests.horizon.kit import HOURS, START, job, near, offering, provider, scenario, service, site

from computemoat.model import Dataset, Horizon, InfeasibleError, OfferingSchedule, Policy, Tier, TrainingWindow
from computemoat.planner.horizon import plan_horizon
from computemoat.reliability import FaultModel, job_reliability


def _two_sites(egress_a: float = 0.05, egress_b: float = 0.09) -> dict[str, list]:  # type: ignore[type-arg]
    return dict(
        providers=[provider("a", egress=egress_a), provider("b", egress=egress_b)],
        sites=[site("a"), site("b", "y")],
        offerings=[offering("a:x", 2.00), offering("b:y", 2.10)],
    )


@pytest.mark.parametrize("dataset_gb", [0.0, 1_000.0, 100_000.0])
def test_egress_moves_the_job_next_to_its_data(dataset_gb: float) -> None:
    # 8 GPUs x 100 h: $1,600 at a, $1,680 at b. The dataset lives at b (egress $0.09/GB leaving b); run at a,
    # the job reads it (size x 0.09) and sends its final 1,000 GB checkpoint home (1,000 x $0.05 from a).
    # At 1 TB: a costs 1,600 + 90 + 50 = 1,740 > 1,680 -> b. At 0 GB: a = 1,650 < 1,680 -> a.
    ds = Dataset(id="web", site="b:y", size_gb=dataset_gb, jobs=("train",))
    h = Horizon(start=START, periods=1, datasets=(ds,))
    sc = scenario(**_two_sites(), jobs=(job(checkpoint_size_gb=1000.0),), horizon=h)
    result = plan_horizon(sc, near(sc), faults=FaultModel.none())
    at_a = 1600.0 + dataset_gb * 0.09 + 1000.0 * 0.05
    at_b = 1680.0
    (run,) = result.plan.training
    assert run.provider == ("a" if at_a < at_b else "b")
    assert result.plan.total_usd == pytest.approx(min(at_a, at_b))
    assert result.plan.egress_usd == pytest.approx(at_a - 1600.0 if at_a < at_b else 0.0)
    if at_a < at_b:  # egress is paid to the provider the bytes leave
        assert result.plan.spend_usd_by_provider.get("b", (0.0,))[0] == pytest.approx(dataset_gb * 0.09)


def test_periodic_checkpoint_copies_are_counted() -> None:
    # Copy a checkpoint home every 30 h of a 100 h job: floor(100 / 30) = 3 copies + the final one = 4 x 500 GB.
    ds = Dataset(id="web", site="b:y", size_gb=0.0, jobs=("train",), checkpoint_copy_every_hours=30.0)
    sc = scenario(**_two_sites(egress_a=0.10), jobs=(job(checkpoint_size_gb=500.0),),
                  horizon=Horizon(start=START, periods=1, datasets=(ds,)))  # fmt: skip
    result = plan_horizon(sc, near(sc), faults=FaultModel.none())
    # at a: 1,600 + 4 x 500 x 0.10 = 1,800 > 1,680 at b
    assert result.plan.training[0].provider == "b"
    assert result.plan.total_usd == pytest.approx(1680.0)


def test_job_waits_for_capacity_that_comes_online_and_spans_consecutive_periods() -> None:
    # 1,000 h > one month: the gang holds its GPUs in 2 consecutive periods, paying 730 h then 270 h. The
    # only offering is online from period 2 and the window allows any start: start 2, cost 8 x 1,000 x 2.
    h = Horizon(start=START, periods=5, offerings=(OfferingSchedule(offering="a:x:h100x8", online_from_period=2),),
                training_windows=(TrainingWindow(job="train", earliest_start=START),))  # fmt: skip
    sc = scenario([provider("a")], [site("a")], [offering("a:x", 2.0)], jobs=(job(hours=1000.0),), horizon=h)
    result = plan_horizon(sc, near(sc), faults=FaultModel.none())
    (run,) = result.plan.training
    assert (run.start_period, run.periods) == (2, 2)
    assert result.plan.spend_usd_by_provider["a"] == pytest.approx((0, 0, 8 * 730 * 2.0, 8 * 270 * 2.0, 0))


def test_price_decline_makes_a_windowed_job_wait_but_not_past_its_deadline() -> None:
    # Prices fall 20%/yr compound; the job may run from Feb 1 and must end by May 1 (end of April):
    # the latest start is April (period 3), at price 2 x 0.8^(3/12).
    w = TrainingWindow(job="train", earliest_start=dt.date(2027, 2, 1), deadline=dt.date(2027, 5, 1))
    h = Horizon(start=START, periods=12, price_decline_per_year=0.2, training_windows=(w,))
    sc = scenario([provider("a")], [site("a")], [offering("a:x", 2.0)], jobs=(job(),), horizon=h)
    result = plan_horizon(sc, near(sc), faults=FaultModel.none())
    assert result.plan.training[0].start_period == 3
    assert result.plan.total_usd == pytest.approx(8 * 100 * 2.0 * 0.8 ** (3 / 12))


def test_training_is_planned_on_expected_wall_clock_hours() -> None:
    # Oracle: the shared failure/checkpoint model (reliability.job_reliability, the simulator's closed form).
    faults = FaultModel()
    big = job(gpus=4096, hours=500.0, checkpoint_write_s=300.0)
    sc = scenario([provider("a")], [site("a")], [offering("a:x", 2.0, capacity=4096)], jobs=(big,),
                  horizon=Horizon(start=START, periods=2))  # fmt: skip
    rel = job_reliability(faults, job_id="train", work_hours=500.0, checkpoint_write_s=300.0, gpus=4096,
                          tier=Tier.on_demand, gpus_per_instance=8, provider="a")  # fmt: skip
    assert rel.expected_hours > 500.0
    result = plan_horizon(sc, near(sc), faults=faults)
    assert result.plan.training[0].expected_hours == pytest.approx(rel.expected_hours)
    assert result.plan.total_usd == pytest.approx(4096 * rel.expected_hours * 2.0)
    late = sc.model_copy(
        update={"training_jobs": (big.model_copy(update={"deadline_hours": 0.5 * (500 + rel.expected_hours)}),)}
    )
    with pytest.raises(InfeasibleError, match="train"):
        plan_horizon(late, near(sc), faults=faults)


def _capped(policy: Policy, **h_kw):  # type: ignore[no-untyped-def]
    # Two replicas (two 8-GPU instances) every month, a at $2, b at $3; month 0 also runs a 100 h job only
    # a may host ($1,600). The replica bound (k=0: exactly 2 replicas) rules out diluting with idle ones.
    h = Horizon(start=START, periods=3, **h_kw)
    return scenario([provider("a"), provider("b")], [site("a"), site("b", "y")],
                    [offering("a:x", 2.0), offering("b:y", 3.0)], services=(service(rps=2.0),),
                    jobs=(job(allowed_providers=("a",)),), horizon=h, policy=policy)  # fmt: skip


A_UNIT, B_UNIT, JOB = 8 * HOURS * 2.0, 8 * HOURS * 3.0, 8 * 100 * 2.0  # $11,680, $17,520, $1,600


def test_gpu_cap_holds_in_every_period() -> None:
    # Month 0 holds 8 (job, at a) + 16 (replicas) GPUs. Cap 70%: a may hold the job and one replica
    # (16/24 = 67%); months 1-2 (16 GPUs) need one replica at each (both at a = 100%).
    sc = _capped(Policy(max_provider_share_gpus=0.7))
    result = plan_horizon(sc, near(sc), faults=FaultModel.none(), mip_gap=1e-9)
    assert result.plan.gpus_by_provider == {"a": (16.0, 8.0, 8.0), "b": (8.0, 8.0, 8.0)}
    assert result.plan.total_usd == pytest.approx(JOB + 3 * A_UNIT + 3 * B_UNIT)
    # Cap 50%: in month 0 whoever holds 2 of the 3 instances has 67%: no plan, although months 1-2 could.
    with pytest.raises(InfeasibleError):
        plan_horizon(_capped(Policy(max_provider_share_gpus=0.5)), near(sc), faults=FaultModel.none())


def test_spend_cap_scope_compares_like_with_like() -> None:
    # Cap 60% of spend. Per period: both replicas at a is 100% in every month -> one at each provider, and in
    # month 0 a has 1,600 + 11,680 = 13,280 of 30,800 = 43%: 3 a-months, total $89,200.
    # Over the horizon: x a-months out of 6 need 1,600 + 11,680 x <= 0.6 (1,600 + 11,680 x + 17,520 (6 - x)),
    # i.e. 15,184 x <= 62,432, x = 4: $83,360 (one month then has both replicas at a: allowed, like with like).
    pol = Policy(max_provider_share_spend=0.6)
    per_period = plan_horizon(_capped(pol, spend_cap_scope="period"), near(_capped(pol)), faults=FaultModel.none(),
                              mip_gap=1e-9).plan  # fmt: skip
    assert per_period.total_usd == pytest.approx(JOB + 3 * A_UNIT + 3 * B_UNIT)
    assert max(per_period.spend_share("a")) <= 0.6 + 1e-9
    horizon = plan_horizon(_capped(pol, spend_cap_scope="horizon"), near(_capped(pol)), faults=FaultModel.none(),
                           mip_gap=1e-9).plan  # fmt: skip
    assert horizon.total_usd == pytest.approx(JOB + 4 * A_UNIT + 2 * B_UNIT)
    assert sum(horizon.spend_usd_by_provider["a"]) / horizon.total_usd <= 0.6 + 1e-9
    assert max(horizon.spend_share("a")) > 0.6
