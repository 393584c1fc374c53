"""The closed form the planner plans with: checked against independent closed forms and limits."""

from __future__ import annotations

import math

import pytest

from computemoat.model import Tier
from computemoat.reliability import (
    FaultModel,
    GpuInterruptions,
    ProviderFaults,
    expected_wall_clock_hours,
    job_reliability,
    stretch_hours,
)


def test_single_stretch_is_the_exponential_renewal_mean() -> None:
    """No restart, no checkpoint: time to see W hours without a Poisson(λ) event is (e^{λW} - 1)/λ
    (textbook renewal argument), independent of the Daly form used in the code."""
    lam, w = 0.2, 3.0
    assert stretch_hours(w, lam, 0.0) == pytest.approx(math.expm1(lam * w) / lam, rel=1e-12)


def test_no_failures_means_work_plus_checkpoint_writes() -> None:
    """λ = 0: nothing is lost, but a job that checkpoints every τ still writes ceil(W/τ) - 1 times."""
    assert expected_wall_clock_hours(500.0, 0.0, tau_h=1.0, checkpoint_h=0.1, restart_h=0.2) == pytest.approx(
        500.0 + 499 * 0.1
    )
    r = job_reliability(
        FaultModel.none(), job_id="j", work_hours=500.0, checkpoint_write_s=60, gpus=1024,
        tier=Tier.on_demand, gpus_per_instance=8, provider="p",
    )
    # τ from the configured (default) rates: Llama 3 total for 1,024 GPUs + 99.9 % SLA outages of 4 h
    tau_h = math.sqrt(2 * (60 / 3600) / (1024 / (16_384 * 54 * 24 / 419) + 1e-3 / 4.0))
    assert r.checkpoint_interval_s == pytest.approx(tau_h * 3600)
    assert r.expected_hours == pytest.approx(500.0 + (math.ceil(500.0 / tau_h) - 1) * 60 / 3600)
    assert r.interruptions_per_hour == 0.0


def test_small_rate_matches_young_first_order_overhead() -> None:
    """First order (Young 1974): overhead per unit work ≈ δ/τ + λ(τ/2 + R); at λτ = 0.01 the
    second-order terms are < 1e-4 of the work."""
    lam, delta_h, restart_h = 0.01, 18 / 3600, 0.1
    tau_h = math.sqrt(2 * delta_h / lam)
    w = 1000.0
    wall = expected_wall_clock_hours(w, lam, tau_h=tau_h, checkpoint_h=delta_h, restart_h=restart_h)
    first_order = delta_h / tau_h + lam * (tau_h / 2 + restart_h)
    assert (wall - w) / w == pytest.approx(first_order, abs=2e-4)


def test_spot_adds_preemptions_per_instance() -> None:
    faults = FaultModel(providers={"p": ProviderFaults(outages_per_year=0.0, spot_preemptions_per_instance_hour=0.01)})
    kw = dict(job_id="j", work_hours=100.0, checkpoint_write_s=60, gpus=64, gpus_per_instance=8, provider="p")
    od = job_reliability(faults, tier=Tier.on_demand, **kw)  # type: ignore[arg-type]
    spot = job_reliability(faults, tier=Tier.spot, **kw)  # type: ignore[arg-type]
    assert spot.interruptions_per_hour - od.interruptions_per_hour == pytest.approx(8 * 0.01)
    assert spot.expected_hours > od.expected_hours > 100.0


def test_llama3_scale_job_loses_about_a_tenth() -> None:
    """16,384 H100 at Llama-3 rates (one interruption every ~3.1 h), 5 min checkpoints, 10 min restart:
    Young's first-order overhead sqrt(2δλ) + λR ≈ 0.18 + 0.054; the exact form is a bit above it."""
    pf = {"p": ProviderFaults(outages_per_year=0)}
    faults = FaultModel(gpu=GpuInterruptions(restart_overhead_s=600), providers=pf)
    r = job_reliability(
        faults, job_id="j", work_hours=1000.0, checkpoint_write_s=300, gpus=16_384,
        tier=Tier.on_demand, gpus_per_instance=8, provider="p",
    )
    lam = 16_384 / faults.gpu.gpu_hours_per_interruption
    first = math.sqrt(2 * (300 / 3600) * lam) + lam * 600 / 3600
    assert 1 + first < r.expected_hours / 1000.0 < 1 + 1.3 * first
