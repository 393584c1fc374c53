"""Reserved capacity is take-or-pay (item 3); the plan the replanner sees is the plan that runs, spot
preemptions are not hardware faults, and a withdrawal never loses more than one checkpoint interval
(item 6)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from computemoat.model import Plan, Tier
from computemoat.reliability import ReservedBilling
from computemoat.sim.engine import simulate
from computemoat.sim.faults import FaultModel, GpuInterruptions, OutagePolicy, ProviderFaults, Withdrawal


def _move(plan: Plan, frm: str, to: int) -> Plan:
    site = f"p{to}:r{to}"
    upd = {"offering_id": f"{site}:h100", "site_id": site, "provider": f"p{to}", "tier": Tier.on_demand}
    return plan.model_copy(
        update={
            "training": tuple(p.model_copy(update=upd) if p.provider == frm else p for p in plan.training),
            "inference": tuple(p.model_copy(update=upd) if p.provider == frm else p for p in plan.inference),
        }
    )


@pytest.mark.parametrize("billing", list(ReservedBilling))
def test_reserved_commitment_is_billed_after_the_job_moves(kit: SimpleNamespace, billing: ReservedBilling) -> None:
    """1,024 GPUs reserved for 500 h at $2, moved at 100 h: take-or-pay still bills the remaining 400 h
    (1,024 x 400 x $2 = $819,200) on top of the new site's hours; ``as_used`` (a contract with exit
    terms) bills only the 100 h held."""
    j = kit.job(hours=500.0)
    sc = kit.scenario(3, jobs=(j,))
    base = kit.plan(sc, {"train": 0})
    plan = base.model_copy(update={"training": (base.training[0].model_copy(update={"tier": Tier.reserved}),)})
    faults = FaultModel.none(withdrawals=(Withdrawal(provider="p0", at_hours=100.0),)).model_copy(
        update={"reserved_billing": billing}
    )
    res = simulate(sc, plan, faults, months=1, seed=1, replanner=lambda p, w, c: _move(p, "p0", 2))
    row = res.jobs.iloc[0]
    assert row["completed"] and row["final_offering"] == "p2:r2:h100"
    new_site_h = row["completion_hours"] - 100.0
    reserved_usd = 1024 * 2.0 * (500.0 if billing == ReservedBilling.take_or_pay else 100.0)
    assert row["cost_usd"] == pytest.approx(reserved_usd + 1024 * 2.0 * new_site_h + row["egress_usd"])
    if billing == ReservedBilling.take_or_pay:
        assert row["cost_usd"] - (1024 * 2.0 * row["completion_hours"] + row["egress_usd"]) == pytest.approx(819_200)


def test_reserved_is_billed_through_a_stall(kit: SimpleNamespace) -> None:
    j = kit.job(hours=500.0)
    sc = kit.scenario(2, jobs=(j,))
    base = kit.plan(sc, {"train": 0})
    plan = base.model_copy(update={"training": (base.training[0].model_copy(update={"tier": Tier.reserved}),)})
    res = simulate(sc, plan, FaultModel.none(withdrawals=(Withdrawal(provider="p0", at_hours=100.0),)), months=1)
    row = res.jobs.iloc[0]
    assert row["stalled"] and row["cost_usd"] == pytest.approx(1024 * 2.0 * 500.0)


def test_replanner_starts_from_the_plan_as_it_runs(kit: SimpleNamespace) -> None:
    """An outage moves the job p0 -> p1; a later withdrawal of p2 must be replanned from a plan with the
    job on p1 (before issue 13 it got the original plan, with the job still on p0). The run's final
    plan is what ran: the job's final offering and the live inference placements."""
    sc = kit.scenario(3, jobs=(kit.job(hours=600),), services=(kit.service(k=0),))
    plan = kit.plan(sc, {"train": 0}, {"chat": {2: 10}})
    faults = FaultModel(
        gpu=GpuInterruptions(gpu_hours_per_interruption=math.inf),
        providers={
            "p0": ProviderFaults(outages_per_year=60.0, outage_mean_hours=10.0),
            "p1": ProviderFaults(outages_per_year=0.0),
            "p2": ProviderFaults(outages_per_year=0.0),
        },
        outage_policy=OutagePolicy.migrate,
        withdrawals=(Withdrawal(provider="p2", at_hours=700.0),),
        domains=(),
    )
    seen: list[Plan] = []

    def replanner(current: Plan, withdrawn: tuple[str, ...], factor: object) -> Plan:
        seen.append(current)
        return _move(current, "p2" if withdrawn else "p0", 1)

    res = simulate(sc, plan, faults, months=1.5, seed=5, replanner=replanner)
    assert len(seen) >= 2 and seen[0].training[0].provider == "p0"
    assert [p.provider for p in seen[-1].training] == ["p1"]  # the move of the outage is in the plan
    final = res.final_plan
    assert final is not None
    assert [p.offering_id for p in final.training] == res.jobs["final_offering"].tolist() == ["p1:r1:h100"]
    assert [p.provider for p in final.inference] == ["p1"]


def test_spot_preemptions_are_labelled_as_such(kit: SimpleNamespace) -> None:
    j = kit.job(gpus=64, hours=200.0)
    sc = kit.scenario(1, jobs=(j,))
    base = kit.plan(sc, {"train": 0})
    plan = base.model_copy(update={"training": (base.training[0].model_copy(update={"tier": Tier.spot}),)})
    faults = FaultModel(
        gpu=GpuInterruptions(gpu_hours_per_interruption=math.inf),
        providers={"p0": ProviderFaults(outages_per_year=0.0, spot_preemptions_per_instance_hour=0.01)},
    )
    res = simulate(sc, plan, faults, months=1, seed=2)
    n = res.summary["interruptions"]
    assert n > 0 and res.summary["interruption_causes"] == {"spot_preemption": n}


def test_unannounced_withdrawal_without_random_faults_loses_at_most_one_interval(kit: SimpleNamespace) -> None:
    """Random faults off, the provider vanishes without notice at 250 h: the job had checkpointed every
    τ all along, so it loses less than τ (before issue 13 it never checkpointed and lost all 250 h)."""
    sc = kit.scenario(2, jobs=(kit.job(hours=500.0),))
    plan = kit.plan(sc, {"train": 0})
    faults = FaultModel.none(withdrawals=(Withdrawal(provider="p0", at_hours=250.0, announced=False),))
    row = simulate(sc, plan, faults, months=1, seed=1, replanner=lambda p, w, c: _move(p, "p0", 1)).jobs.iloc[0]
    assert row["completed"]
    assert 0 < row["lost_work_hours"] < row["checkpoint_interval_hours"] < 250.0
