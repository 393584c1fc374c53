"""Training candidates over the horizon: (job, offering, tier, start period), each with the periods it
occupies, its per-period hours and spend, and its data-gravity egress.

Wall-clock hours are the *expected* hours of :func:`computemoat.reliability.job_reliability` (the
simulator's failure and checkpoint model), so a plan never promises what the simulation then misses; a
placement whose expected hours exceed ``deadline_hours`` is never a candidate. A job is a gang: all its
GPUs at one offering, in consecutive periods ``start .. start + ceil(E / H) - 1``; it holds its GPUs in
every period it touches (capacity) and pays for the hours it runs in each (``min(H, E - i H)``).
Without a training window a job starts in period 0, as in the single-period planner; with one it may
start in any period from ``earliest_start`` whose end (the start of the period after its last) is on
or before ``deadline``. A scenario without a horizon is one period holding the whole job.

Egress (in the objective, paid in the start period): a job reading a dataset held at another site pays
``size_gb x egress($/GB) of the dataset's provider``; its final checkpoint (and one every
``checkpoint_copy_every_hours``) goes back to the dataset's site at the job provider's egress price.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from computemoat.model import Scenario, Tier, TrainingJob
from computemoat.planner.horizon.offers import PAY_TIERS, OfferingArrays
from computemoat.planner.horizon.periods import PeriodGrid
from computemoat.planner.rules import provider_block_reason
from computemoat.reliability import FaultModel, job_reliability

COMMITTED = len(PAY_TIERS)  # tier index of "runs on committed capacity"
TIER_NAMES = (*(t.value for t in PAY_TIERS), "committed")


@dataclass(frozen=True)
class TrainingCandidates:
    job: np.ndarray  # [c] job index
    off: np.ndarray  # [c] offering index
    tier: np.ndarray  # [c] 0 on-demand, 1 spot, 2 committed
    start: np.ndarray  # [c] start period
    periods: np.ndarray  # [c] periods occupied
    gpus: np.ndarray  # [c] GPUs paid (whole instances)
    expected_hours: np.ndarray  # [c]
    nominal_hours: np.ndarray  # [c]
    # occupancy entries: candidate e_c runs e_hours in period e_t
    e_c: np.ndarray
    e_t: np.ndarray
    e_hours: np.ndarray
    # spend entries: candidate s_c pays s_usd (nominal) to provider s_p in period s_t
    s_c: np.ndarray
    s_t: np.ndarray
    s_p: np.ndarray
    s_usd: np.ndarray
    egress_usd: np.ndarray  # [c]
    problems: tuple[str, ...] = field(default=())


def _window(scenario: Scenario, job: TrainingJob, n_periods: int, length: int) -> list[int]:
    h = scenario.horizon
    if h is None:
        return [0]
    w = next((w for w in h.training_windows if w.job == job.id), None)
    if w is None:
        return [0] if length <= n_periods else []
    first = 0
    if w.earliest_start is not None:
        p = h.period_of(w.earliest_start)
        first = p if h.period_start(p) == w.earliest_start else p + 1
    starts = []
    for s in range(max(first, 0), n_periods - length + 1):
        if w.deadline is None or h.period_start(s + length) <= w.deadline:
            starts.append(s)
    return starts


def _egress(scenario: Scenario, job: TrainingJob, site_id: str, provider: str, hours: float) -> list[tuple[str, float]]:
    """(provider paid, USD) of moving the job's data in and its checkpoints home."""
    h = scenario.horizon
    if h is None:
        return []
    out = []
    for ds in h.datasets:
        if job.id not in ds.jobs or ds.site == site_id:
            continue
        home = scenario.site(ds.site).provider
        out.append((home, ds.size_gb * scenario.provider(home).egress_usd_per_gb))
        copies = 1 + (math.floor(hours / ds.checkpoint_copy_every_hours) if ds.checkpoint_copy_every_hours else 0)
        out.append((provider, copies * job.checkpoint_size_gb * scenario.provider(provider).egress_usd_per_gb))
    return out


def training_candidates(
    scenario: Scenario, grid: PeriodGrid, offs: OfferingArrays, committable: np.ndarray, faults: FaultModel
) -> TrainingCandidates:
    """Enumerate every candidate; ``committable[o]``: some commitment option exists at offering o."""
    sc = scenario
    rows: list[tuple[int, int, int, int, int, int, float, float, float]] = []
    occ: list[tuple[int, int, float]] = []
    spend: list[tuple[int, int, int, float]] = []
    problems: list[str] = []
    p_index = {p.name: i for i, p in enumerate(sc.providers)}
    max_cap = grid.capacity_gpus.max(axis=1)
    for j, job in enumerate(sc.training_jobs):
        before = len(rows)
        for i, o in enumerate(sc.offerings):
            prov = sc.providers[offs.provider[i]]
            if o.accelerator not in job.accelerators or provider_block_reason(sc, job, prov) is not None:
                continue
            gpi = int(offs.gpus_per_instance[i])
            paid = math.ceil(job.gpus / gpi) * gpi
            if paid > max_cap[i]:
                continue
            tiers = [0] if np.isfinite(offs.usd_per_gpu_hour[i, 0]).all() else []
            if job.spot_allowed and np.isfinite(offs.usd_per_gpu_hour[i, 1]).all():
                tiers.append(1)
            if job.reserved_allowed and committable[i]:
                tiers.append(COMMITTED)
            for tier in tiers:
                rel_tier = Tier.spot if tier == 1 else Tier.on_demand
                rel = job_reliability(
                    faults,
                    job_id=job.id,
                    work_hours=job.hours,
                    checkpoint_write_s=job.checkpoint_write_s,
                    gpus=paid,
                    tier=rel_tier,
                    gpus_per_instance=gpi,
                    provider=prov.name,
                )
                e_h = rel.expected_hours
                if job.deadline_hours is not None and e_h > job.deadline_hours * (1 + 1e-9):
                    continue
                length = 1 if sc.horizon is None else math.ceil(e_h / grid.hours - 1e-9)
                egress = _egress(sc, job, o.site, prov.name, e_h)
                for s in _window(sc, job, grid.n, length):
                    c = len(rows)
                    rows.append((j, i, tier, s, length, paid, e_h, job.hours, sum(u for _, u in egress)))
                    for k in range(length):
                        hours = e_h if sc.horizon is None else min(grid.hours, e_h - k * grid.hours)
                        occ.append((c, s + k, hours))
                        if tier != COMMITTED:
                            spend.append(
                                (c, s + k, int(offs.provider[i]), paid * hours * offs.usd_per_gpu_hour[i, tier, s + k])
                            )
                    spend.extend((c, s, p_index[payee], usd) for payee, usd in egress if usd > 0)
        if len(rows) == before:
            problems.append(
                f"training job {job.id}: no offering of {'/'.join(job.accelerators)} with {job.gpus} GPUs at one "
                f"site fits its rules, its deadline (expected wall-clock hours) and its window in the horizon "
                f"(relax its rules, its window or deadline_hours)"
            )
    t = np.array(rows, dtype=float).reshape(-1, 9)
    e = np.array(occ, dtype=float).reshape(-1, 3)
    s_ = np.array(spend, dtype=float).reshape(-1, 4)
    i64 = np.int64
    return TrainingCandidates(
        job=t[:, 0].astype(i64),
        off=t[:, 1].astype(i64),
        tier=t[:, 2].astype(i64),
        start=t[:, 3].astype(i64),
        periods=t[:, 4].astype(i64),
        gpus=t[:, 5],
        expected_hours=t[:, 6],
        nominal_hours=t[:, 7],
        e_c=e[:, 0].astype(i64),
        e_t=e[:, 1].astype(i64),
        e_hours=e[:, 2],
        s_c=s_[:, 0].astype(i64),
        s_t=s_[:, 1].astype(i64),
        s_p=s_[:, 2].astype(i64),
        s_usd=s_[:, 3],
        egress_usd=t[:, 8],
        problems=tuple(problems),
    )
