"""Checkpoint/restart of one gang-scheduled training job, vectorized over its interruptions.

Between two coarse events (outage, withdrawal) the job sees a Poisson stream of interruptions at rate
λ = GPUs / (GPU-hours per interruption) (+ spot preemptions x instances). All interruption times of the
stretch are drawn at once; each run between restarts saves ``floor(L / (τ + δ))`` checkpoints of τ
work, and the job finishes in the first run long enough for the remaining work. No per-node process.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from computemoat.model import Scenario, TrainingJob, TrainingPlacement
from computemoat.reliability import (
    FaultModel,
    checkpoint_interval_s,
    interruptions_per_hour,
    site_outages_per_hour,
)
from computemoat.sim.timeline import NS_PER_HOUR, NS_PER_S

NO_CHECKPOINT_NS = 2**61  # "never": interval when nothing fails


def placement_interruptions_per_hour(scenario: Scenario, faults: FaultModel, placement: TrainingPlacement) -> float:
    """GPU/node failures for ``placement.gpus`` plus spot preemption of any of its instances."""
    return interruptions_per_hour(
        faults,
        gpus=placement.gpus,
        tier=placement.tier,
        gpus_per_instance=scenario.offering(placement.offering_id).gpus_per_instance,
        provider=placement.provider,
    )


@dataclass
class Segment:
    """The job held ``placement``'s GPUs (and paid for them) over ``[start_ns, end_ns)``."""

    placement: TrainingPlacement
    start_ns: int
    end_ns: int


@dataclass
class JobState:
    job: TrainingJob
    placement: TrainingPlacement
    work_ns: int
    lam_per_ns: float
    tau_ns: int
    delta_ns: int
    restart_ns: int
    saved_ns: int = 0
    run_from_ns: int = 0
    held_from_ns: int = 0
    done_ns: int | None = None
    stalled: bool = False
    interruptions: int = 0
    checkpoint_ns: int = 0
    lost_ns: int = 0
    restart_spent_ns: int = 0
    down_ns: int = 0
    egress_usd: float = 0.0
    migrations: int = 0
    segments: list[Segment] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.done_ns is None and not self.stalled


def new_state(scenario: Scenario, faults: FaultModel, job: TrainingJob, placement: TrainingPlacement) -> JobState:
    state = JobState(
        job,
        placement,
        work_ns=round(job.hours * NS_PER_HOUR),
        lam_per_ns=0.0,
        tau_ns=0,
        delta_ns=round(job.checkpoint_write_s * NS_PER_S),
        restart_ns=round(faults.gpu.restart_overhead_s * NS_PER_S),
    )
    set_placement(scenario, faults, state, placement)
    return state


def set_placement(scenario: Scenario, faults: FaultModel, state: JobState, placement: TrainingPlacement) -> None:
    """Rates and checkpoint interval follow the placement (spot and GPU count change the MTBF)."""
    state.placement = placement
    rate_h = placement_interruptions_per_hour(scenario, faults, placement)
    state.lam_per_ns = rate_h / NS_PER_HOUR
    # the MTBF that sets τ counts site outages too: they also cost the work since the last checkpoint
    all_rate_h = rate_h + site_outages_per_hour(faults, placement.provider)
    tau_s = checkpoint_interval_s(faults, state.job.id, state.job.checkpoint_write_s, all_rate_h)
    state.tau_ns = NO_CHECKPOINT_NS if tau_s is None else max(1, round(tau_s * NS_PER_S))


def advance(state: JobState, until_ns: int, rng: np.random.Generator, *, final_checkpoint: bool = False) -> None:
    """Run the job from ``run_from_ns`` to ``until_ns`` (or to completion). Work after the last
    checkpoint is lost at every interruption, and at ``until_ns`` unless ``final_checkpoint`` (a
    announced stop: the job saves its progress, and the caller pays the write time δ)."""
    t0 = state.run_from_ns
    if not state.active or until_ns <= t0:
        return
    n = int(rng.poisson(state.lam_per_ns * (until_ns - t0))) if state.lam_per_ns > 0 else 0
    fail = np.sort(rng.integers(t0, until_ns, size=n, dtype=np.int64))
    run_start = np.concatenate(([t0], fail + state.restart_ns))
    run_end = np.concatenate((fail, [until_ns]))
    length = np.maximum(run_end - run_start, 0)
    tau, delta = state.tau_ns, state.delta_ns
    period = tau + delta
    ckpts = length // period
    saved = ckpts * tau
    before = state.saved_ns + np.cumsum(saved) - saved  # work saved when each run starts
    remaining = state.work_ns - before
    ckpts_needed = np.maximum(-(-remaining // tau) - 1, 0)  # the last stretch needs no checkpoint
    need = remaining + ckpts_needed * delta
    finished = need <= length
    restart = np.minimum(run_start[1:], run_end[1:]) - fail  # restart time actually spent
    if finished.any():
        i = int(np.argmax(finished))
        state.done_ns = int(run_start[i] + need[i])
        state.interruptions += i
        state.checkpoint_ns += int(ckpts[:i].sum() * delta + ckpts_needed[i] * delta)
        state.lost_ns += int((length[:i] - ckpts[:i] * period).sum())
        state.restart_spent_ns += int(restart[:i].sum())
        state.saved_ns = state.work_ns
        return
    unsaved = length - ckpts * period
    if final_checkpoint:
        kept = min(int(unsaved[-1]), tau)
        saved[-1] += kept
        unsaved[-1] -= kept
    state.interruptions += n
    state.checkpoint_ns += int(ckpts.sum() * delta)
    state.lost_ns += int(unsaved.sum())
    state.restart_spent_ns += int(restart.sum())
    state.saved_ns = int(state.saved_ns + saved.sum())
    state.run_from_ns = max(until_ns, int(run_start[-1]))


def close_segment(state: JobState, end_ns: int) -> None:
    """Stop paying for the current placement at ``end_ns`` (move, finish, horizon)."""
    if end_ns > state.held_from_ns:
        state.segments.append(Segment(state.placement, state.held_from_ns, end_ns))
    state.held_from_ns = end_ns
