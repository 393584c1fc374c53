"""Checkpoint/restart of one gang-scheduled training job, vectorized over its interruptions.

Between two coarse events (outage, withdrawal) the job sees Poisson streams of interruptions (node
faults, failure domains, spot preemptions: ``reliability.failure_kinds``), each from its own random
stream keyed by job and kind (common random numbers). All interruption times of the stretch are drawn
at once; each run between restarts saves ``floor(L / (τ + δ))`` checkpoints of τ work, and the job
finishes in the first run long enough for the remaining work. No per-node process.

Finite hot spares: failed nodes are in repair (exponential, mean per kind); while more nodes are in
repair than there are spares the job waits (policy ``wait``) or runs slower (``elastic``). The run
arithmetic is then done on the job's progress clock u = ∫ speed dt and mapped back to wall time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from computemoat.model import Scenario, TrainingJob, TrainingPlacement
from computemoat.reliability import (
    FailureKind,
    FaultModel,
    TrainingPolicy,
    checkpoint_interval_s,
    failure_kinds,
    model_memo,
    planned_interval_s,
    site_outages_per_hour,
)
from computemoat.sim.streams import Arrivals, pick, stream, unit_exponential
from computemoat.sim.timeline import NS_PER_HOUR, NS_PER_S

NO_CHECKPOINT_NS = 2**61  # "never": interval when nothing can fail
I64 = NDArray[np.int64]


@dataclass(frozen=True)
class PlacementRates:
    """What a run needs of a job's placement: its failure kinds as arrays (kind shares of the total
    rate, nodes each takes to repair, mean repair) and its checkpoint interval. Derived from the
    FaultModel once per sweep (memoised per model), not once per run and move."""

    kinds: tuple[FailureKind, ...]
    names: tuple[str, ...]
    rate_per_ns: float
    share_edges: NDArray[np.float64]
    nodes: I64
    repair_mean_ns: NDArray[np.float64]
    tau_ns: int


def placement_rates(
    scenario: Scenario, faults: FaultModel, job: TrainingJob, placement: TrainingPlacement
) -> PlacementRates:
    gpi = scenario.offering(placement.offering_id).gpus_per_instance
    fixed = job.id if job.id in faults.checkpoint_interval_s else None  # the only use of the job's id
    key = (fixed, job.checkpoint_write_s, placement.gpus, placement.tier, gpi, placement.provider)
    memo = model_memo(faults, "sim.placement_rates")
    found = memo.get(key)
    if found is not None:
        return found
    kinds = failure_kinds(
        faults, gpus=placement.gpus, tier=placement.tier, gpus_per_instance=gpi, provider=placement.provider
    )
    rates = np.array([k.rate_per_h for k in kinds], dtype=np.float64)
    total = float(rates.sum())
    if faults.random_faults:  # the rates drawn are the rates planned with (same τ as planned_interval_s)
        all_rate_h = total + site_outages_per_hour(faults, placement.provider)
        tau_s = checkpoint_interval_s(faults, job.id, job.checkpoint_write_s, all_rate_h)
    else:
        tau_s = planned_interval_s(
            faults,
            job_id=job.id,
            checkpoint_write_s=job.checkpoint_write_s,
            gpus=placement.gpus,
            tier=placement.tier,
            gpus_per_instance=gpi,
            provider=placement.provider,
        )
    out = PlacementRates(
        kinds=kinds,
        names=tuple(k.name for k in kinds),
        rate_per_ns=total / NS_PER_HOUR,
        share_edges=np.cumsum(rates)[:-1] / total if total > 0 else np.zeros(0),
        nodes=np.array([k.nodes for k in kinds], dtype=np.int64),
        repair_mean_ns=np.array([k.repair_h * NS_PER_HOUR for k in kinds], dtype=np.float64),
        tau_ns=NO_CHECKPOINT_NS if tau_s is None else max(1, round(tau_s * NS_PER_S)),
    )
    memo[key] = out
    return out


@dataclass
class Segment:
    """The job held ``placement``'s GPUs (and paid for them) over ``[start_ns, end_ns)``."""

    placement: TrainingPlacement
    start_ns: int
    end_ns: int


@dataclass
class Hazards:
    """The job's interruptions: one Poisson process at the total rate of its failure kinds, each arrival
    labelled with a kind in proportion to the rates (its uniform ``u``), and the nodes it has in repair.
    One stream per job (keyed by job id): a move, or another plan, only rescales the same draws."""

    seed: int
    job_id: str
    rates: PlacementRates | None = None
    arrivals: Arrivals | None = None
    repair_end_ns: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    repair_nodes: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    _v: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))

    @property
    def names(self) -> tuple[str, ...]:
        return self.rates.names if self.rates is not None else ()

    def set_rates(self, rates: PlacementRates, new_site: bool) -> None:
        self.rates = rates
        if self.arrivals is None:
            self.arrivals = Arrivals(stream(self.seed, "job", self.job_id))
        self.arrivals.rate_per_ns = rates.rate_per_ns
        if new_site:  # another site's spare pool: nothing of ours is in repair there
            self.repair_end_ns = np.zeros(0, dtype=np.int64)
            self.repair_nodes = np.zeros(0, dtype=np.int64)

    def draw(self, t0_ns: int, t1_ns: int) -> tuple[I64, NDArray[np.intp]]:
        """Interruption times in ``[t0, t1)`` (sorted) and the index of each one's kind in ``rates.kinds``."""
        if self.arrivals is None or self.rates is None or not self.rates.kinds:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.intp)
        times, u, r = self.arrivals.take(t0_ns, t1_ns)
        self._v = r  # uniform: the repair durations' draws, transformed only when repairs are tracked
        return times, pick(self.rates.share_edges, u)

    def repairs(self, fail_ns: I64, kind: NDArray[np.intp]) -> tuple[I64, I64]:
        """Send the failed nodes to repair (exponential, each arrival's own ``v``); return (end_ns, nodes)
        of everything now in repair."""
        assert self.rates is not None
        nodes = self.rates.nodes[kind]
        v = unit_exponential(self._v[: fail_ns.size])
        ends = fail_ns + (v * self.rates.repair_mean_ns[kind]).astype(np.int64)
        keep = nodes > 0
        self.repair_end_ns = np.concatenate((self.repair_end_ns, ends[keep]))
        self.repair_nodes = np.concatenate((self.repair_nodes, nodes[keep]))
        return self.repair_end_ns, self.repair_nodes


@dataclass
class JobState:
    job: TrainingJob
    placement: TrainingPlacement
    work_ns: int
    tau_ns: int
    delta_ns: int
    restart_ns: int
    hazards: Hazards
    spares: int | None
    nodes: int
    policy: TrainingPolicy
    saved_ns: int = 0
    run_from_ns: int = 0
    held_from_ns: int = 0
    done_ns: int | None = None
    stalled: bool = False
    interruptions: int = 0
    causes: dict[str, int] = field(default_factory=dict)
    checkpoint_ns: int = 0
    lost_ns: int = 0
    restart_spent_ns: int = 0
    spare_wait_ns: int = 0
    outages: list[tuple[int, int]] = field(default_factory=list)  # site outages ridden out, not yet run
    egress_usd: float = 0.0
    migrations: int = 0
    segments: list[Segment] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.done_ns is None and not self.stalled


def new_state(
    scenario: Scenario, faults: FaultModel, job: TrainingJob, placement: TrainingPlacement, seed: int
) -> JobState:
    gpn = faults.gpu.gpus_per_node
    state = JobState(
        job,
        placement,
        work_ns=round(job.hours * NS_PER_HOUR),
        tau_ns=0,
        delta_ns=round(job.checkpoint_write_s * NS_PER_S),
        restart_ns=round(faults.gpu.restart_overhead_s * NS_PER_S),
        hazards=Hazards(seed, job.id),
        spares=faults.gpu.hot_spare_nodes,
        nodes=-(-placement.gpus // gpn),
        policy=faults.training_policy,
    )
    set_placement(scenario, faults, state, placement, new_site=True)
    return state


def set_placement(
    scenario: Scenario, faults: FaultModel, state: JobState, placement: TrainingPlacement, *, new_site: bool = True
) -> None:
    """Rates and checkpoint interval follow the placement (spot and GPU count change the MTBF). τ comes
    from the configured rates even when this run draws no random fault, so a job always checkpoints."""
    state.placement = placement
    state.nodes = -(-placement.gpus // faults.gpu.gpus_per_node)
    rates = placement_rates(scenario, faults, state.job, placement)
    state.hazards.set_rates(rates, new_site)
    state.tau_ns = rates.tau_ns


def _progress_clock(state: JobState, t0: int, t1: int, fail: I64, kind: NDArray[np.intp]) -> tuple[I64, I64]:
    """Breakpoints (wall ns) and the progress clock u(t) - u(t0) at each, given nodes in repair."""
    ends, nodes = state.hazards.repairs(fail, kind)
    assert state.hazards.rates is not None
    fail_nodes = state.hazards.rates.nodes[kind]
    # repairs that started before t0 are in progress at t0 (their start is clipped to t0)
    starts = np.concatenate((np.full(ends.size - int((fail_nodes > 0).sum()), t0), fail[fail_nodes > 0]))
    times = np.unique(np.clip(np.concatenate(([t0, t1], starts, ends)), t0, t1))
    mid = times[:-1]
    so, eo = np.argsort(starts), np.argsort(ends)
    up = np.concatenate(([0], np.cumsum(nodes[so])))[np.searchsorted(starts[so], mid, side="right")]
    back = np.concatenate(([0], np.cumsum(nodes[eo])))[np.searchsorted(ends[eo], mid, side="right")]
    count = up - back
    short = np.maximum(count - (state.spares or 0), 0)
    if state.policy == TrainingPolicy.elastic:
        speed = np.maximum(state.nodes - short, 0) / state.nodes
    else:
        speed = (short == 0).astype(np.float64)
    u = np.concatenate(([0], np.cumsum(np.round(np.diff(times) * speed)).astype(np.int64)))
    keep = ends > t1  # finished repairs leave the pool
    state.hazards.repair_end_ns, state.hazards.repair_nodes = ends[keep], nodes[keep]
    return times, u


def _to_wall(times: I64, u: I64, uq: I64 | int) -> I64:
    """First wall time at which the progress clock reaches ``uq``."""
    q = np.atleast_1d(np.asarray(uq, dtype=np.int64))
    i = np.clip(np.searchsorted(u, q, side="left"), 1, len(u) - 1)
    du = np.maximum(u[i] - u[i - 1], 1).astype(np.float64)
    frac = (q - u[i - 1]).astype(np.float64) / du  # float: the int64 product of two spans overflows
    return times[i - 1] + np.round(frac * (times[i] - times[i - 1])).astype(np.int64)


def advance(state: JobState, until_ns: int, *, final_checkpoint: bool = False) -> None:
    """Run the job from ``run_from_ns`` to ``until_ns`` (or to completion). Work after the last
    checkpoint is lost at every interruption, and at ``until_ns`` unless ``final_checkpoint`` (an
    announced stop: the job saves its progress, and the caller pays the write time δ).

    One pass per quantity over the stretch's runs: lengths, checkpoints saved (their running count gives
    the work left at each run's start), restart time; the finishing run is looked for only among the
    runs long enough for the work left."""
    t0 = state.run_from_ns
    if not state.active or until_ns <= t0:
        return
    stretch = stretch_faults(state, t0, until_ns)
    clock = None
    if state.spares is not None and (stretch.fail.size or state.hazards.repair_end_ns.size):
        clock = _progress_clock(state, t0, until_ns, *stretch.failures())
    base, resume, kind = stretch.interruptions()
    if clock is not None:  # on the progress clock, which starts at 0 at t0
        origin, ufail, uresume, uend = 0, _to_wall_inv(clock, base), _to_wall_inv(clock, resume), int(clock[1][-1])
    else:  # wall time itself
        origin, ufail, uresume, uend = t0, base, resume, until_ns
    tau, delta, r = state.tau_ns, state.delta_ns, state.restart_ns
    period = tau + delta
    run_start = np.concatenate(([origin], uresume + r))
    run_end = np.concatenate((ufail, [uend]))
    raw = run_end - run_start
    length = np.maximum(raw, 0)
    ckpts = length // period
    cum = np.cumsum(ckpts)
    # restart time spent: from the resume to the run's start (or to its end, if interrupted first)
    restart = np.minimum(np.maximum(raw[1:] + r, 0), r)
    remaining = (state.work_ns - state.saved_ns) - tau * (cum - ckpts)  # work left when each run starts
    cand = np.flatnonzero(remaining <= length)
    names, outages = state.hazards.names, bool(stretch.o_st.size)
    if cand.size:
        left = remaining[cand]
        needed = np.maximum(-(-left // tau) - 1, 0)  # the last stretch needs no checkpoint
        need = left + needed * delta
        fin = np.flatnonzero(need <= length[cand])
        if fin.size:
            f = int(fin[0])
            i = int(cand[f])
            u_done = int(run_start[i] + need[f])
            state.done_ns = int(_to_wall(*clock, u_done)[0]) if clock is not None else u_done
            state.spare_wait_ns += (state.done_ns - t0) - (u_done - origin)
            _count(state, names, kind[:i], outages)
            done_ckpts = int(cum[i - 1]) if i else 0
            state.checkpoint_ns += (done_ckpts + int(needed[f])) * delta
            state.lost_ns += int(length[:i].sum()) - done_ckpts * period
            state.restart_spent_ns += int(restart[:i].sum())
            state.saved_ns = state.work_ns
            return
    n_ckpts = int(cum[-1])
    saved = n_ckpts * tau
    lost = int(length.sum()) - n_ckpts * period
    if final_checkpoint:
        kept = min(int(length[-1] - ckpts[-1] * period), tau)
        saved += kept
        lost -= kept
    _count(state, names, kind, outages)
    state.checkpoint_ns += n_ckpts * delta
    state.lost_ns += lost
    state.restart_spent_ns += int(restart.sum())
    state.spare_wait_ns += (until_ns - t0) - (uend - origin)
    state.saved_ns += saved
    state.run_from_ns = until_ns + max(int(run_start[-1]) - uend, 0)


@dataclass(frozen=True)
class Stretch:
    """The interruptions of one stretch: failures drawn (none while the site is down) and the site
    outages ridden out, with where each outage cuts the failures (``cut_from``/``cut_to``: the failures
    it hides are ``fail[cut_from:cut_to]``). Outages are few, so they are looked up among the failures."""

    fail: I64
    kind: NDArray[np.intp]
    o_st: I64
    o_en: I64
    cut_from: list[int]
    cut_to: list[int]

    def failures(self) -> tuple[I64, NDArray[np.intp]]:
        """The failures that happen while the site is up (time order) and their kinds."""
        if not self.o_st.size:
            return self.fail, self.kind
        keep = np.ones(self.fail.size, dtype=bool)
        for x, y in zip(self.cut_from, self.cut_to, strict=True):
            keep[x:y] = False
        return self.fail[keep], self.kind[keep]

    def interruptions(self) -> tuple[I64, I64, NDArray[np.intp]]:
        """Every interruption in time order: when it happens, when its restart can begin, its kind (-1:
        an outage, not an interruption of the job's own)."""
        if not self.o_st.size:
            return self.fail, self.fail, self.kind
        fail, kind = self.fail, self.kind
        base: list[np.ndarray] = []
        resume: list[np.ndarray] = []
        kinds: list[np.ndarray] = []
        prev = 0
        minus = np.full(1, -1, dtype=np.intp)
        for k, (x, y) in enumerate(zip(self.cut_from, self.cut_to, strict=True)):
            base += [fail[prev:x], self.o_st[k : k + 1]]
            resume += [fail[prev:x], self.o_en[k : k + 1]]
            kinds += [kind[prev:x], minus]
            prev = max(prev, y)
        base.append(fail[prev:])
        resume.append(fail[prev:])
        kinds.append(kind[prev:])
        return np.concatenate(base), np.concatenate(resume), np.concatenate(kinds)


def stretch_faults(state: JobState, t0: int, until_ns: int) -> Stretch:
    """Draw the stretch's failures and take the outages of the job's site in it."""
    fail, kind = state.hazards.draw(t0, until_ns)
    o_st, o_en = _take_outages(state, t0, until_ns)
    if not o_st.size:
        return Stretch(fail, kind, o_st, o_en, [], [])
    order = np.argsort(o_st, kind="stable")
    o_st, o_en = o_st[order], o_en[order]
    if o_st.size > 1 and not bool((o_st[1:] >= o_en[:-1]).all()):  # overlapping (not from one timeline): merge
        run_end = np.maximum.accumulate(o_en)
        new = np.ones(o_st.size, dtype=bool)
        new[1:] = o_st[1:] > run_end[:-1]
        group = np.cumsum(new) - 1
        ends = np.zeros(int(group[-1]) + 1, dtype=np.int64)
        np.maximum.at(ends, group, o_en)
        o_st, o_en = o_st[new], ends
    cut_from = np.searchsorted(fail, o_st).tolist()
    cut_to = np.searchsorted(fail, o_en).tolist()
    return Stretch(fail, kind, o_st, o_en, cut_from, cut_to)


def _take_outages(state: JobState, t0_ns: int, until_ns: int) -> tuple[I64, I64]:
    """Pending outages of the job's site that start before ``until_ns`` (clipped to start at ``t0_ns``)."""
    if not state.outages:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    now = [(max(a, t0_ns), b) for a, b in state.outages if a < until_ns and b > t0_ns]
    state.outages = [(a, b) for a, b in state.outages if a >= until_ns]
    if not now:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    st, en = np.array(now, dtype=np.int64).T
    return st, en


def _to_wall_inv(clock: tuple[I64, I64], wall: I64) -> I64:
    """u at each wall time (the progress clock is piecewise linear between its breakpoints)."""
    times, u = clock
    return np.round(np.interp(wall, times, u)).astype(np.int64)


def _count(state: JobState, names: tuple[str, ...], kind: NDArray[np.intp], outages: bool) -> None:
    """Interruptions by kind (outages, kind -1, are not interruptions of the job's own)."""
    if outages:
        kind = kind[kind >= 0]
    state.interruptions += int(kind.size)
    for i, c in enumerate(np.bincount(kind, minlength=len(names)).tolist()):
        if c:
            state.causes[names[i]] = state.causes.get(names[i], 0) + c


def close_segment(state: JobState, end_ns: int) -> None:
    """Stop paying for the current placement at ``end_ns`` (move, finish, horizon)."""
    if end_ns > state.held_from_ns:
        state.segments.append(Segment(state.placement, state.held_from_ns, end_ns))
    state.held_from_ns = end_ns
