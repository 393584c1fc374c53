"""One failure/checkpoint model for planner and simulator: the simulator's mean wall-clock hours
converge to reliability.job_reliability's closed form (what the planner promises)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from computemoat.model import Tier
from computemoat.reliability import job_reliability
from computemoat.sim.engine import simulate
from computemoat.sim.faults import FaultModel, GpuInterruptions, ProviderFaults


def test_simulated_mean_completion_equals_planned_expected_hours(kit: SimpleNamespace) -> None:
    lam_h, delta_s, restart_s = 0.05, 120.0, 900.0  # rates chosen so the overhead (~6%) is far above noise
    j = kit.job(gpus=1024, hours=400.0, checkpoint_write_s=delta_s)
    sc = kit.scenario(1, jobs=(j,))
    plan = kit.plan(sc, {"train": 0})
    faults = FaultModel(
        gpu=GpuInterruptions(gpu_hours_per_interruption=1024 / lam_h, restart_overhead_s=restart_s),
        providers={"p0": ProviderFaults(outages_per_year=0.0)},
    )
    hours = [simulate(sc, plan, faults, months=2, seed=s).jobs.iloc[0]["completion_hours"] for s in range(200)]
    planned = job_reliability(
        faults, job_id=j.id, work_hours=j.hours, checkpoint_write_s=delta_s, gpus=j.gpus,
        tier=Tier.on_demand, gpus_per_instance=8, provider="p0",
    ).expected_hours
    mean, se = float(np.mean(hours)), float(np.std(hours, ddof=1) / math.sqrt(len(hours)))
    assert abs(mean - planned) <= 3.3 * se, (mean, planned, se)
    assert planned - j.hours > 20 * se  # the test has power: nominal hours would fail it
