"""Expected wall-clock hours of a checkpointed training job: the closed form the planner plans with and
the simulator's Monte-Carlo mean converges to.

Model (the simulator's, sim/training.py): interruptions arrive as a Poisson process at rate λ per hour
(node-level GPU faults, correlated rack/power-domain failures, spot preemption of every instance, plus
site outages). After each one the job restarts (R, during which a new interruption restarts the
restart) and resumes from its last checkpoint. Work is cut into n = ceil(W/τ) stretches; each but the
last is τ of work plus a checkpoint write δ. A stretch that must run L hours without interruption
takes, in expectation,

    E[T(L)] = M e^{R/M} (e^{L/M} - 1),   M = 1/λ        (Daly 2006, "A higher order estimate of the
                                                          optimum checkpoint interval", eq. 13)

so E[wall] = (n-1) E[T(τ+δ)] + E[T(W-(n-1)τ)], plus the site-outage downtime μ·D per hour up.
τ is Young's sqrt(2 δ M) unless the user fixes it, the same rule the simulator uses; with random
faults off the job still checkpoints at the τ of the configured rates (so λ = 0 gives W + (n-1)δ).

Finite hot spares (``gpu.hot_spare_nodes``): failed nodes are in repair for a mean D; the number in
repair is the M/G/∞ occupancy, a compound Poisson law (Poisson(λ_k D_k) events of b_k nodes per kind
k), independent of what the job does. With S spares the job is short of nodes a fraction
P(X > S) of the time (policy ``wait``: no progress) or runs at (N - (X - S)^+)/N (``elastic``). The
closed form divides the Daly hours by the mean progress rate: exact when shortages are rare next to τ,
a first-order approximation otherwise (the simulator tracks them event by event).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from computemoat.model import Tier
from computemoat.reliability.faults import HOURS_PER_YEAR, FaultModel, TrainingPolicy

S_PER_HOUR = 3600.0
SPOT = "spot_preemption"
NODE = "node"


def young_daly_interval_s(checkpoint_write_s: float, mtbf_s: float) -> float:
    """Young's first-order optimum τ = sqrt(2 δ M): balances checkpoint cost δ/τ against lost work τ/(2M)."""
    return math.sqrt(2.0 * checkpoint_write_s * mtbf_s)


@dataclass(frozen=True)
class FailureKind:
    """One stream of interruptions of a placement: rate, and the nodes it takes into repair for how long."""

    name: str
    rate_per_h: float
    nodes: int  # nodes that go to repair (0: nothing to repair, e.g. a spot preemption)
    repair_h: float


def failure_kinds(
    faults: FaultModel, *, gpus: int, tier: Tier, gpus_per_instance: int, provider: str
) -> tuple[FailureKind, ...]:
    """Every interruption stream of ``gpus`` GPUs: node faults, each failure domain, spot preemption."""
    if not faults.random_faults:
        return ()
    node_rate, domain_rate = faults.gpu_rates()
    gpn = faults.gpu.gpus_per_node
    nodes = math.ceil(gpus / gpn)
    kinds = [FailureKind(NODE, gpus * node_rate, 1, faults.gpu.node_repair_hours)]
    for d in faults.active_domains():
        if d.gpus is None:
            continue
        spanned = math.ceil(gpus / d.gpus)
        kinds.append(
            FailureKind(d.name, spanned * domain_rate[d.name], min(nodes, math.ceil(d.gpus / gpn)), d.repair_hours)
        )
    if tier == Tier.spot:
        kinds.append(
            FailureKind(SPOT, math.ceil(gpus / gpus_per_instance) * faults.spot_per_instance_hour(provider), 0, 0.0)
        )
    return tuple(k for k in kinds if k.rate_per_h > 0)


def interruptions_per_hour(
    faults: FaultModel, *, gpus: int, tier: Tier, gpus_per_instance: int, provider: str
) -> float:
    """Node and failure-domain faults for ``gpus`` plus spot preemption of any of its instances (per hour)."""
    kinds = failure_kinds(faults, gpus=gpus, tier=tier, gpus_per_instance=gpus_per_instance, provider=provider)
    return sum(k.rate_per_h for k in kinds)


def site_outages_per_hour(faults: FaultModel, provider: str) -> float:
    """Outages of the job's site (its own, site-wide domains, provider-wide), per hour; they also cost
    unsaved work."""
    if not faults.random_faults:
        return 0.0
    site_wide = sum(d.failures_per_domain_year for d in faults.active_domains() if d.gpus is None)
    return (
        faults.site_outages_per_year(provider) + site_wide + faults.provider_wide_per_year(provider)
    ) / HOURS_PER_YEAR


def site_downtime_per_hour(faults: FaultModel, provider: str) -> float:
    """Expected hours of site downtime per hour (rate x mean duration, summed over outage kinds)."""
    if not faults.random_faults:
        return 0.0
    per_year = (faults.site_outages_per_year(provider) + faults.provider_wide_per_year(provider)) * (
        faults.site_outage_mean_hours(provider)
    )
    per_year += sum(d.failures_per_domain_year * d.repair_hours for d in faults.active_domains() if d.gpus is None)
    return per_year / HOURS_PER_YEAR


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
    if work_h <= 0:
        return work_h
    n = max(1, math.ceil(work_h / tau_h - 1e-12))
    last_h = work_h - (n - 1) * tau_h
    return (n - 1) * stretch_hours(tau_h + checkpoint_h, rate_per_h, restart_h) + stretch_hours(
        last_h, rate_per_h, restart_h
    )


def nodes_in_repair_pmf(kinds: tuple[FailureKind, ...], tail: float = 1e-12) -> np.ndarray:
    """P(X = x), X = nodes in repair (compound Poisson: Poisson(λ_k D_k) events of ``nodes`` each)."""
    from scipy import stats

    pmf = np.ones(1)
    for k in kinds:
        mean = k.rate_per_h * k.repair_h
        if k.nodes == 0 or mean <= 0:
            continue
        top = int(stats.poisson.isf(tail, mean)) + 1
        events = stats.poisson.pmf(np.arange(top + 1), mean)
        spread = np.zeros(top * k.nodes + 1)
        spread[:: k.nodes] = events
        pmf = np.convolve(pmf, spread)
    return pmf


def progress_rate(kinds: tuple[FailureKind, ...], nodes: int, spares: int | None, policy: TrainingPolicy) -> float:
    """Mean share of full speed when failed nodes wait for repair and only ``spares`` stand in."""
    if spares is None:
        return 1.0
    pmf = nodes_in_repair_pmf(kinds)
    x = np.arange(pmf.size)
    short = np.maximum(x - spares, 0)
    if policy == TrainingPolicy.elastic:
        return float(1.0 - (pmf * np.minimum(short, nodes)).sum() / nodes)
    return float(1.0 - pmf[short > 0].sum())


@dataclass(frozen=True)
class JobReliability:
    """What a placement of a training job can be expected to deliver (hours are wall clock)."""

    nominal_hours: float
    expected_hours: float
    interruptions_per_hour: float
    checkpoint_interval_s: float | None  # None: no rate at all, no checkpoint needed

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


def planned_interval_s(
    faults: FaultModel,
    *,
    job_id: str,
    checkpoint_write_s: float,
    gpus: int,
    tier: Tier,
    gpus_per_instance: int,
    provider: str,
) -> float | None:
    """τ from the configured rates, also when the run draws no random fault (FaultModel.planning_rates)."""
    plan_f = faults.planning_rates()
    rate = interruptions_per_hour(plan_f, gpus=gpus, tier=tier, gpus_per_instance=gpus_per_instance, provider=provider)
    return checkpoint_interval_s(plan_f, job_id, checkpoint_write_s, rate + site_outages_per_hour(plan_f, provider))


@dataclass(frozen=True)
class _PlacementRates:
    """What job_reliability needs of a placement besides its work hours (costly: scipy, domain walks)."""

    rate_per_h: float  # interruptions that cost unsaved work, site outages excluded
    outage_rate_per_h: float
    tau_s: float | None
    speed: float
    downtime_per_h: float


_MEMO_MODELS = 8  # FaultModels whose derived values are kept (a plan or a sweep uses one or two)
_memo: OrderedDict[int, tuple[FaultModel, dict[str, dict[tuple[object, ...], Any]]]] = OrderedDict()


def model_memo(faults: FaultModel, namespace: str) -> dict[tuple[object, ...], Any]:
    """A memo of values derived from one FaultModel (``namespace`` keeps users apart), by identity: the
    model is frozen, and the entry holds it, so its id cannot be reused while the entry lives. A
    2,000-job plan asks ~70,000 times for ~600 placements; a sweep asks once per job and run."""
    hit = _memo.get(id(faults))
    if hit is not None and hit[0] is faults:
        _memo.move_to_end(id(faults))
        return hit[1].setdefault(namespace, {})
    tables: dict[str, dict[tuple[object, ...], Any]] = {}
    _memo[id(faults)] = (faults, tables)
    while len(_memo) > _MEMO_MODELS:
        _memo.popitem(last=False)
    return tables.setdefault(namespace, {})


def _rates_memo(faults: FaultModel) -> dict[tuple[object, ...], _PlacementRates]:
    return model_memo(faults, "placement_rates")


def _placement_rates(
    faults: FaultModel,
    *,
    job_id: str,
    checkpoint_write_s: float,
    gpus: int,
    tier: Tier,
    gpus_per_instance: int,
    provider: str,
) -> _PlacementRates:
    fixed = job_id if job_id in faults.checkpoint_interval_s else None  # the only use of the job's id
    key = (fixed, checkpoint_write_s, gpus, tier, gpus_per_instance, provider)
    table = _rates_memo(faults)
    found = table.get(key)
    if found is not None:
        return found
    kinds = failure_kinds(faults, gpus=gpus, tier=tier, gpus_per_instance=gpus_per_instance, provider=provider)
    tau_s = planned_interval_s(
        faults,
        job_id=job_id,
        checkpoint_write_s=checkpoint_write_s,
        gpus=gpus,
        tier=tier,
        gpus_per_instance=gpus_per_instance,
        provider=provider,
    )
    nodes = math.ceil(gpus / faults.gpu.gpus_per_node)
    rates = _PlacementRates(
        rate_per_h=sum(k.rate_per_h for k in kinds),
        outage_rate_per_h=site_outages_per_hour(faults, provider),
        tau_s=tau_s,
        speed=progress_rate(kinds, nodes, faults.gpu.hot_spare_nodes, faults.training_policy),
        downtime_per_h=site_downtime_per_hour(faults, provider),
    )
    table[key] = rates
    return rates


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
    """Expected wall-clock hours of ``work_hours`` of training on one placement (see module docstring).
    The rates of a placement are memoised per FaultModel; only the Daly sum depends on the work."""
    r = _placement_rates(
        faults,
        job_id=job_id,
        checkpoint_write_s=checkpoint_write_s,
        gpus=gpus,
        tier=tier,
        gpus_per_instance=gpus_per_instance,
        provider=provider,
    )
    if r.tau_s is None:
        return JobReliability(work_hours, work_hours, 0.0, None)
    up_h = expected_wall_clock_hours(
        work_hours,
        r.rate_per_h + r.outage_rate_per_h,
        tau_h=r.tau_s / S_PER_HOUR,
        checkpoint_h=checkpoint_write_s / S_PER_HOUR,
        restart_h=faults.gpu.restart_overhead_s / S_PER_HOUR,
    )
    return JobReliability(work_hours, up_h / r.speed * (1.0 + r.downtime_per_h), r.rate_per_h, r.tau_s)


def expected_hours_batch(
    faults: FaultModel,
    *,
    job_id: str,
    work_hours: float,
    checkpoint_write_s: float,
    gpus: np.ndarray,
    tiers: tuple[Tier, ...],
    gpus_per_instance: np.ndarray,
    providers: tuple[str, ...],
) -> np.ndarray:
    """job_reliability(...).expected_hours of one job on many placements (element i: ``gpus[i]``,
    ``tiers[i]``, ``gpus_per_instance[i]``, ``providers[i]``); see :func:`expected_hours_rows`."""
    tier_names, tier_index = np.unique(np.array([Tier(t).value for t in tiers], dtype=object), return_inverse=True)
    names, provider_index = np.unique(np.array(providers, dtype=object), return_inverse=True)
    return expected_hours_rows(
        faults,
        job_ids=(job_id,),
        work_hours=np.array([work_hours], dtype=float),
        checkpoint_write_s=np.array([checkpoint_write_s], dtype=float),
        row_job=np.zeros(len(gpus), dtype=np.int64),
        gpus=np.asarray(gpus),
        tier_index=tier_index.reshape(-1),
        tiers=tuple(Tier(t) for t in tier_names),
        gpus_per_instance=np.asarray(gpus_per_instance),
        provider_index=provider_index.reshape(-1),
        providers=tuple(str(n) for n in names),
    )


def expected_hours_rows(
    faults: FaultModel,
    *,
    job_ids: tuple[str, ...],
    work_hours: np.ndarray,
    checkpoint_write_s: np.ndarray,
    row_job: np.ndarray,
    gpus: np.ndarray,
    tier_index: np.ndarray,
    tiers: tuple[Tier, ...],
    gpus_per_instance: np.ndarray,
    provider_index: np.ndarray,
    providers: tuple[str, ...],
) -> np.ndarray:
    """job_reliability(...).expected_hours of many (job, placement) rows at once: row i is job
    ``job_ids[row_job[i]]`` (its ``work_hours`` and ``checkpoint_write_s``) on ``gpus[i]`` GPUs of tier
    ``tiers[tier_index[i]]`` at ``providers[provider_index[i]]``. The planner asks this for ~40
    placements of each of 10,000 jobs: the placement rates are looked up once per distinct placement
    (a few hundred; same memo as job_reliability), the Daly sum runs in numpy over every row."""
    count = len(row_job)
    if count == 0:
        return np.zeros(0)
    fixed = np.array([j in faults.checkpoint_interval_s for j in job_ids], dtype=bool)
    cpw = np.asarray(checkpoint_write_s, dtype=float)[row_job]
    key = np.column_stack(
        [np.where(fixed[row_job], row_job, -1), cpw, gpus, tier_index, gpus_per_instance, provider_index]
    )
    distinct, inverse = np.unique(key, axis=0, return_inverse=True)
    table = np.array(
        [_rates_row(faults, job_ids, row, tiers, providers) for row in distinct.tolist()],
        dtype=float,
    ).reshape(len(distinct), 5)[inverse.reshape(-1)]
    rate, outage, tau_s, speed, downtime = table.T
    work = np.asarray(work_hours, dtype=float)[row_job]
    tau_h = tau_s / S_PER_HOUR
    lam = rate + outage
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        n = np.maximum(1.0, np.ceil(work / tau_h - 1e-12))
        last_h = work - (n - 1) * tau_h
        restart_h = faults.gpu.restart_overhead_s / S_PER_HOUR
        full_h = tau_h + cpw / S_PER_HOUR
        m = 1.0 / lam
        grow = np.exp(restart_h * lam)
        stretch_full = np.where(lam > 0, m * grow * np.expm1(full_h * lam), full_h)
        stretch_last = np.where(lam > 0, m * grow * np.expm1(last_h * lam), last_h)
        up_h = (n - 1) * stretch_full + stretch_last
    out: np.ndarray = np.where(np.isnan(tau_s) | (work <= 0), work, up_h / speed * (1.0 + downtime))
    return out


def _rates_row(
    faults: FaultModel, job_ids: tuple[str, ...], row: list[float], tiers: tuple[Tier, ...], providers: tuple[str, ...]
) -> tuple[float, float, float, float, float]:
    """One distinct placement key of :func:`expected_hours_rows` -> its rates as five floats."""
    job, cpw, gpus, tier, gpi, provider = row
    r = _placement_rates(
        faults,
        job_id=job_ids[int(job)] if job >= 0 else "",
        checkpoint_write_s=cpw,
        gpus=int(gpus),
        tier=tiers[int(tier)],
        gpus_per_instance=int(gpi),
        provider=providers[int(provider)],
    )
    return (r.rate_per_h, r.outage_rate_per_h, np.nan if r.tau_s is None else r.tau_s, r.speed, r.downtime_per_h)
