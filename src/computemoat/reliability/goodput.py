"""Expected wall-clock hours of a checkpointed training job: the closed form the planner plans with and
the simulator's Monte-Carlo mean converges to.

Model (the simulator's, sim/training.py): interruptions arrive as a Poisson process at rate λ per hour
(GPU/node faults for every GPU, plus spot preemption of every instance, plus site outages). After each
one the job restarts (R, during which a new interruption restarts the restart) and resumes from its last
checkpoint. Work is cut into n = ceil(W/τ) stretches; each but the last is τ of work plus a checkpoint
write δ. A stretch that must run L hours without interruption takes, in expectation,

    E[T(L)] = M e^{R/M} (e^{L/M} - 1),   M = 1/λ        (Daly 2006, "A higher order estimate of the
                                                          optimum checkpoint interval", eq. 13)

so E[wall] = (n-1) E[T(τ+δ)] + E[T(W-(n-1)τ)], plus the site-outage downtime μ·D per hour up.
τ is Young's sqrt(2 δ M) unless the user fixes it, the same rule the simulator uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from computemoat.model import Tier
from computemoat.reliability.faults import HOURS_PER_YEAR, FaultModel

S_PER_HOUR = 3600.0


def young_daly_interval_s(checkpoint_write_s: float, mtbf_s: float) -> float:
    """Young's first-order optimum τ = sqrt(2 δ M): balances checkpoint cost δ/τ against lost work τ/(2M)."""
    return math.sqrt(2.0 * checkpoint_write_s * mtbf_s)


def interruptions_per_hour(
    faults: FaultModel, *, gpus: int, tier: Tier, gpus_per_instance: int, provider: str
) -> float:
    """GPU/node failures for ``gpus`` plus spot preemption of any of its instances (per hour)."""
    if not faults.random_faults:
        return 0.0
    rate = gpus / faults.gpu.gpu_hours_per_interruption
    if tier == Tier.spot:
        rate += math.ceil(gpus / gpus_per_instance) * faults.spot_per_instance_hour(provider)
    return rate


def site_outages_per_hour(faults: FaultModel, provider: str) -> float:
    """Outages of the job's site (its own and provider-wide), per hour; they also cost unsaved work."""
    if not faults.random_faults:
        return 0.0
    return (faults.site_outages_per_year(provider) + faults.provider_wide_per_year(provider)) / HOURS_PER_YEAR


def stretch_hours(length_h: float, rate_per_h: float, restart_h: float) -> float:
    """Expected time to complete ``length_h`` of uninterrupted running (Daly's exact form)."""
    if rate_per_h <= 0:
        return length_h
    m = 1.0 / rate_per_h
    return m * math.exp(restart_h / m) * math.expm1(length_h / m)


def expected_wall_clock_hours(
    work_h: float, rate_per_h: float, *, tau_h: float, checkpoint_h: float, restart_h: float
) -> float:
    """E[wall-clock] for ``work_h`` of work under Poisson interruptions (module docstring)."""
    if rate_per_h <= 0 or work_h <= 0:
        return work_h
    n = max(1, math.ceil(work_h / tau_h - 1e-12))
    last_h = work_h - (n - 1) * tau_h
    return (n - 1) * stretch_hours(tau_h + checkpoint_h, rate_per_h, restart_h) + stretch_hours(
        last_h, rate_per_h, restart_h
    )


@dataclass(frozen=True)
class JobReliability:
    """What a placement of a training job can be expected to deliver (hours are wall clock)."""

    nominal_hours: float
    expected_hours: float
    interruptions_per_hour: float
    checkpoint_interval_s: float | None  # None: nothing fails, no checkpoint needed

    @property
    def goodput(self) -> float:
        return self.nominal_hours / self.expected_hours if self.expected_hours > 0 else 1.0


def checkpoint_interval_s(
    faults: FaultModel, job_id: str, checkpoint_write_s: float, all_rate_h: float
) -> float | None:
    """The interval the job checkpoints at: fixed by the user, else Young/Daly on every interruption."""
    fixed = faults.checkpoint_interval_s.get(job_id)
    if fixed is not None:
        return fixed
    if all_rate_h <= 0:
        return None
    return young_daly_interval_s(checkpoint_write_s, S_PER_HOUR / all_rate_h)


def job_reliability(
    faults: FaultModel,
    *,
    job_id: str,
    work_hours: float,
    checkpoint_write_s: float,
    gpus: int,
    tier: Tier,
    gpus_per_instance: int,
    provider: str,
) -> JobReliability:
    """Expected wall-clock hours of ``work_hours`` of training on one placement (see module docstring)."""
    rate = interruptions_per_hour(faults, gpus=gpus, tier=tier, gpus_per_instance=gpus_per_instance, provider=provider)
    outage_rate = site_outages_per_hour(faults, provider)
    tau_s = checkpoint_interval_s(faults, job_id, checkpoint_write_s, rate + outage_rate)
    if tau_s is None:
        return JobReliability(work_hours, work_hours, 0.0, None)
    restart_h = faults.gpu.restart_overhead_s / S_PER_HOUR
    up_h = expected_wall_clock_hours(
        work_hours,
        rate + outage_rate,
        tau_h=tau_s / S_PER_HOUR,
        checkpoint_h=checkpoint_write_s / S_PER_HOUR,
        restart_h=restart_h,
    )
    downtime_per_up_h = outage_rate * faults.site_outage_mean_hours(provider)
    return JobReliability(work_hours, up_h * (1.0 + downtime_per_up_h), rate, tau_s)
