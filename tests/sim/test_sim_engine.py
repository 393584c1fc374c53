"""End-to-end behaviour of one simulation run against hand-built plans."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from computemoat.model import Plan
from computemoat.sim.engine import simulate
from computemoat.sim.faults import FaultModel, GpuInterruptions, OutagePolicy, ProviderFaults, Withdrawal

NO_OUTAGES = {f"p{i}": ProviderFaults(outages_per_year=0.0) for i in range(3)}


def test_same_seed_same_run_other_seed_other_run(kit: SimpleNamespace) -> None:
    sc = kit.scenario(3, jobs=(kit.job(hours=300),), services=(kit.service(k=1),))
    plan = kit.plan(sc, {"train": 0}, {"chat": {1: 10, 2: 10}})
    faults = FaultModel(providers={"p1": ProviderFaults(outages_per_year=200.0)})
    a = simulate(sc, plan, faults, months=6, seed=7)
    b = simulate(sc, plan, faults, months=6, seed=7)
    c = simulate(sc, plan, faults, months=6, seed=8)
    pd.testing.assert_frame_equal(a.jobs, b.jobs)
    pd.testing.assert_frame_equal(a.services, b.services)
    assert a.summary == b.summary
    assert not a.jobs.equals(c.jobs)


def test_no_faults_jobs_still_checkpoint_and_cost_follows_the_hours(kit: SimpleNamespace) -> None:
    """Random faults off: nothing fails, but each job still checkpoints at Young's τ = sqrt(2 δ M) of the
    configured rates (issue 13 item 6), so its wall clock is W + (ceil(W/τ) - 1) δ and it pays for that."""
    sc = kit.scenario(3, jobs=(kit.job(hours=500), kit.job("small", gpus=64, hours=40)), services=(kit.service(k=1),))
    plan = kit.plan(sc, {"train": 0, "small": 1}, {"chat": {1: 10, 2: 10}})
    res = simulate(sc, plan, FaultModel.none(), months=1, seed=3)  # one month = the scenario horizon
    delta_h = 300.0 / 3600  # TrainingJob.checkpoint_write_s default
    outages_per_h = 1e-3 * 8760 / 4.0 / 8760  # p0/p1 have no published SLA: 99.9 % in 4-h outages
    expected = []
    for gpus, work_h in ((1024, 500.0), (64, 40.0)):
        # Llama 3 total per GPU (rack/power domains are part of it: 1024 and 64 GPUs span whole racks)
        gpu_rate = gpus / (16_384 * 54 * 24 / 419)
        if gpus < 1024:  # a 64-GPU job sits in one 1,024-GPU power domain: hit by all of its failures
            gpu_rate += (1 - gpus / 1024) * (1 / (1800 / 750)) / 8760
        tau_h = math.sqrt(2 * delta_h / (gpu_rate + outages_per_h))
        expected.append(work_h + (math.ceil(work_h / tau_h) - 1) * delta_h)
    assert res.jobs["completion_hours"].tolist() == pytest.approx(expected, rel=1e-9)
    assert res.jobs["goodput"].tolist() == pytest.approx([500.0 / expected[0], 40.0 / expected[1]], rel=1e-9)
    assert res.jobs["lost_work_hours"].tolist() == [0.0, 0.0] and res.jobs["interruptions"].tolist() == [0, 0]
    assert res.jobs["cost_usd"].tolist() == pytest.approx((res.jobs["gpu_hours_billed"] * 2.0).tolist(), rel=1e-12)
    assert res.jobs["gpu_hours_billed"].tolist() == pytest.approx([expected[0] * 1024, expected[1] * 64])
    inference_cost = 20 * 2.0 * 730
    assert res.summary["total_cost_usd"] == pytest.approx(res.jobs["cost_usd"].sum() + inference_cost, rel=1e-12)
    assert (res.services["availability"] == 1.0).all()
    assert res.summary["interruptions"] == 0 and res.moves == ()


def test_waste_matches_young_daly_first_order(kit: SimpleNamespace) -> None:
    """λ = 0.01/h, δ = 18 s, restart R = 360 s, τ = sqrt(2δ/λ) = 1 h. First-order overhead per unit of
    work: δ/τ + λ(τ/2 + R) = 0.005 + 0.01 x 0.6 = 0.011 (second-order terms here are < 1e-4)."""
    lam_h, delta_s, restart_s = 0.01, 18.0, 360.0
    j = kit.job(gpus=1024, hours=1000.0, checkpoint_write_s=delta_s)
    sc = kit.scenario(1, jobs=(j,))
    plan = kit.plan(sc, {"train": 0})
    faults = FaultModel(
        gpu=GpuInterruptions(gpu_hours_per_interruption=1024 / lam_h, restart_overhead_s=restart_s),
        providers={"p0": ProviderFaults(outages_per_year=0.0)},
    )
    overhead = []
    for seed in range(300):
        row = simulate(sc, plan, faults, months=3, seed=seed).jobs.iloc[0]
        assert row["completed"]
        assert row["checkpoint_interval_hours"] == pytest.approx(1.0, rel=1e-6)
        overhead.append((row["completion_hours"] - j.hours) / j.hours)
    tau_h = math.sqrt(2 * delta_s / 3600 / lam_h)
    expected = (delta_s / 3600) / tau_h + lam_h * (tau_h / 2 + restart_s / 3600)
    mean, se = float(np.mean(overhead)), float(np.std(overhead, ddof=1) / math.sqrt(len(overhead)))
    assert abs(mean - expected) <= 2.576 * se, (mean, expected, se)
    # the test has power: losing a whole interval per failure would add λτ/2 = 0.005, ~20 standard errors
    assert 10 * se < 0.005


@pytest.mark.parametrize(("n", "k", "replicas_each"), [(1, 0, 10), (3, 1, 5), (3, 2, 10)])
def test_k_redundant_availability_matches_binomial(kit: SimpleNamespace, n: int, k: int, replicas_each: int) -> None:
    """Each site serves demand/(n-k); the service is up iff at most k of n providers are down. With
    Poisson outage starts at rate r and mean length D, a site is down with q = 1 - exp(-r D)."""
    rate_per_year, mean_h = 50.0, 9.0
    sc = kit.scenario(n, services=(kit.service(rps=100.0, per_replica=100.0 / (n - k) / replicas_each, k=k),))
    plan = kit.plan(sc, inference={"chat": dict.fromkeys(range(n), replicas_each)})
    faults = FaultModel(
        gpu=GpuInterruptions(gpu_hours_per_interruption=math.inf),
        spot_preemptions_per_instance_hour_default=0.0,
        outage_duration_sigma=0.5,
        providers={f"p{i}": ProviderFaults(outages_per_year=rate_per_year, outage_mean_hours=mean_h) for i in range(n)},
    )
    q = 1 - math.exp(-rate_per_year * mean_h / 8760)
    expected = sum(math.comb(n, j) * q**j * (1 - q) ** (n - j) for j in range(k + 1))
    runs = [simulate(sc, plan, faults, months=60, seed=s).services for s in range(30)]
    avail = np.array([r.loc[r["region"] == "*", "availability"].item() for r in runs])
    mean, se = avail.mean(), avail.std(ddof=1) / math.sqrt(avail.size)
    assert abs(mean - expected) <= 2.576 * se + 1e-4, (mean, expected, se)
    assert expected < 0.999 or se < (1 - expected) / 3  # the interval is tight enough to tell k apart


def _move_off(plan: Plan, withdrawn: tuple[str, ...], to_provider: int) -> Plan:
    """A hand-written replan: every workload on a withdrawn provider goes to ``to_provider``."""
    sc_site = f"p{to_provider}:r{to_provider}"
    training = tuple(
        p.model_copy(update={"offering_id": f"{sc_site}:h100", "site_id": sc_site, "provider": f"p{to_provider}"})
        if p.provider in withdrawn
        else p
        for p in plan.training
    )
    inference = tuple(
        p.model_copy(update={"offering_id": f"{sc_site}:h100", "site_id": sc_site, "provider": f"p{to_provider}"})
        if p.provider in withdrawn
        else p
        for p in plan.inference
    )
    return plan.model_copy(update={"training": training, "inference": inference})


def test_policy_shift_moves_every_affected_workload_once(kit: SimpleNamespace) -> None:
    sc = kit.scenario(
        3,
        jobs=(kit.job(hours=300, checkpoint_size_gb=2000.0), kit.job("other", gpus=8, hours=50)),
        services=(kit.service(k=1),),
    )
    plan = kit.plan(sc, {"train": 0, "other": 1}, {"chat": {0: 10, 1: 10}})
    calls: list[tuple[str, ...]] = []

    def replanner(current: Plan, withdrawn: tuple[str, ...], capacity_factor: object) -> Plan:
        calls.append(withdrawn)
        return _move_off(current, withdrawn, to_provider=2)

    faults = FaultModel.none(withdrawals=(Withdrawal(provider="p0", at_hours=100.0),))
    res = simulate(sc, plan, faults, months=1, seed=1, replanner=replanner)
    assert calls == [("p0",)]
    moved = {(m.workload_id, m.kind, m.from_offering, m.to_offering) for m in res.moves}
    assert moved == {
        ("train", "training", "p0:r0:h100", "p2:r2:h100"),
        ("chat", "inference", None, "p2:r2:h100"),
        ("chat", "inference", "p0:r0:h100", None),
    }
    train = res.jobs.set_index("job_id").loc["train"]
    assert train["completed"] and train["final_offering"] == "p2:r2:h100" and train["migrations"] == 1
    # no faults, announced withdrawal: the periodic checkpoints (Young's τ of the configured rates), one
    # final write, its copy (2000 GB at 100 Gbit/s = 160 s) and a restart (600 s) are the only extra time
    delta_h = 300.0 / 3600
    tau_h = math.sqrt(2 * delta_h / (1024 / (16_384 * 54 * 24 / 419) + 1e-3 / 4.0))
    before = math.floor(100.0 / (tau_h + delta_h))
    saved_h = before * tau_h + min(100.0 - before * (tau_h + delta_h), tau_h)
    after = math.ceil((300.0 - saved_h) / tau_h - 1e-9) - 1
    assert train["lost_work_hours"] == 0.0
    assert train["checkpoint_hours"] == pytest.approx((before + 1 + after) * delta_h)
    assert train["completion_hours"] == pytest.approx(300.0 + train["checkpoint_hours"] + (160.0 + 600.0) / 3600)
    # billed GPU-hours = wall-clock x GPUs: one place at a time, nothing double-counted
    assert train["gpu_hours_billed"] == pytest.approx(train["completion_hours"] * 1024)
    assert train["egress_usd"] == pytest.approx(2000 * 0.05)
    assert train["cost_usd"] == pytest.approx(train["gpu_hours_billed"] * 2.0 + 100.0)
    other = res.jobs.set_index("job_id").loc["other"]
    assert other["migrations"] == 0 and other["cost_usd"] == pytest.approx(other["completion_hours"] * 8 * 2.0)
    # inference: p0's 10 replicas paid for 100 h, p2's from 100 h on, p1's all month
    chat = res.services.set_index("region").loc["*"]
    assert chat["cost_usd"] == pytest.approx(2.0 * (10 * 100 + 10 * 630 + 10 * 730))
    assert chat["availability"] == 1.0  # p1 alone carries the demand during the redeploy


def test_withdrawal_without_replanner_stalls_the_job(kit: SimpleNamespace) -> None:
    sc = kit.scenario(2, jobs=(kit.job(hours=300),), services=(kit.service(k=0),))
    plan = kit.plan(sc, {"train": 0}, {"chat": {0: 10}})
    res = simulate(sc, plan, FaultModel.none(withdrawals=(Withdrawal(provider="p0", at_hours=73.0),)), months=1)
    row = res.jobs.iloc[0]
    assert row["stalled"] and not row["completed"] and row["gpu_hours_billed"] == pytest.approx(73.0 * 1024)
    chat = res.services.set_index("region").loc["*"]
    assert chat["availability"] == pytest.approx(73.0 / 730.0)


@pytest.mark.parametrize("policy", [OutagePolicy.wait, OutagePolicy.migrate])
def test_outage_policy_wait_or_migrate(kit: SimpleNamespace, policy: OutagePolicy) -> None:
    sc = kit.scenario(2, jobs=(kit.job(hours=600),))
    plan = kit.plan(sc, {"train": 0})
    faults = FaultModel(
        gpu=GpuInterruptions(gpu_hours_per_interruption=math.inf),
        providers={"p0": ProviderFaults(outages_per_year=60.0, outage_mean_hours=10.0), "p1": NO_OUTAGES["p1"]},
        outage_policy=policy,
    )

    def replanner(current: Plan, withdrawn: tuple[str, ...], capacity_factor: dict[str, float]) -> Plan:
        assert capacity_factor == {"p0:r0:h100": 0.0}
        return _move_off(current, ("p0",), to_provider=1)

    res = simulate(sc, plan, faults, months=2, seed=5, replanner=replanner)
    row = res.jobs.iloc[0]
    assert row["completed"] and row["interruptions"] == 0
    if policy == OutagePolicy.wait:
        assert res.moves == () and row["outage_and_migration_hours"] > 10.0
    else:
        assert [m.to_offering for m in res.moves] == ["p1:r1:h100"] and row["egress_usd"] > 0
        assert row["lost_work_hours"] > 0 and row["outage_and_migration_hours"] < 1.0


def test_far_region_is_not_served_within_slo(kit: SimpleNamespace) -> None:
    sc = kit.scenario(2, services=(kit.service(k=0),))
    plan = kit.plan(sc, inference={"chat": {0: 10}})
    rtt = np.array([[250.0, 5.0]])  # nyc -> p0 is beyond the 100 ms SLO
    res = simulate(sc, plan, FaultModel.none(), months=1, rtt_ms=rtt)
    assert res.services.set_index("region").loc["nyc", "availability"] == 0.0
