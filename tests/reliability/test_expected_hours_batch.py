"""expected_hours_batch and expected_hours_rows (the planner's vectorised paths) equal job_reliability
element by element.

Oracle: the scalar job_reliability, itself checked against the simulator's Monte-Carlo mean
(tests/sim/test_sim_matches_reliability.py)."""

from __future__ import annotations

import numpy as np
import pytest

from computemoat.model import Tier
from computemoat.reliability import (
    FaultModel,
    GpuInterruptions,
    expected_hours_batch,
    expected_hours_rows,
    job_reliability,
)

CASES = [
    FaultModel(),
    FaultModel(random_faults=False),
    FaultModel(gpu=GpuInterruptions(hot_spare_nodes=2)),
    FaultModel(checkpoint_interval_s={"job": 1800.0}),
]


@pytest.mark.parametrize("faults", CASES, ids=["default", "no-faults", "spares", "fixed-interval"])
@pytest.mark.parametrize("work_hours", [0.5, 24.0, 1440.0])
def test_batch_matches_scalar(faults: FaultModel, work_hours: float) -> None:
    rng = np.random.default_rng(7)
    gpus = rng.choice([8, 64, 1024, 16384], size=30)
    gpi = rng.choice([1, 8], size=30)
    tiers = tuple(rng.choice([Tier.on_demand, Tier.spot, Tier.reserved], size=30).tolist())
    providers = tuple(rng.choice(["aws", "atlas", "nebius", "unknown"], size=30).tolist())
    got = expected_hours_batch(
        faults,
        job_id="job",
        work_hours=work_hours,
        checkpoint_write_s=120.0,
        gpus=gpus,
        tiers=tiers,
        gpus_per_instance=gpi,
        providers=providers,
    )
    want = [
        job_reliability(
            faults,
            job_id="job",
            work_hours=work_hours,
            checkpoint_write_s=120.0,
            gpus=int(g),
            tier=t,
            gpus_per_instance=int(i),
            provider=p,
        ).expected_hours
        for g, t, i, p in zip(gpus, tiers, gpi, providers, strict=True)
    ]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert np.all(got >= work_hours)  # physical bound: interruptions never speed a job up


@pytest.mark.parametrize("faults", CASES, ids=["default", "no-faults", "spares", "fixed-interval"])
def test_rows_of_many_jobs_match_scalar(faults: FaultModel) -> None:
    """The planner's path: rows of many jobs (own work hours, checkpoint write time, one with a fixed
    interval) in one call; each row equals the scalar form of its own job."""
    rng = np.random.default_rng(11)
    job_ids = ("job", "other", "third")
    work = np.array([1440.0, 0.5, 300.0])
    cpw = np.array([120.0, 600.0, 120.0])
    n = 60
    row_job = rng.integers(0, 3, size=n)
    gpus = rng.choice([8, 64, 1024, 16384], size=n)
    gpi = rng.choice([1, 8], size=n)
    tiers = (Tier.on_demand, Tier.spot, Tier.reserved)
    tier_index = rng.integers(0, 3, size=n)
    providers = ("aws", "atlas", "nebius", "unknown")
    provider_index = rng.integers(0, 4, size=n)
    got = expected_hours_rows(
        faults,
        job_ids=job_ids,
        work_hours=work,
        checkpoint_write_s=cpw,
        row_job=row_job,
        gpus=gpus,
        tier_index=tier_index,
        tiers=tiers,
        gpus_per_instance=gpi,
        provider_index=provider_index,
        providers=providers,
    )
    want = [
        job_reliability(
            faults,
            job_id=job_ids[j],
            work_hours=float(work[j]),
            checkpoint_write_s=float(cpw[j]),
            gpus=int(g),
            tier=tiers[t],
            gpus_per_instance=int(i),
            provider=providers[p],
        ).expected_hours
        for j, g, t, i, p in zip(row_job, gpus, tier_index, gpi, provider_index, strict=True)
    ]
    np.testing.assert_allclose(got, want, rtol=1e-12)
