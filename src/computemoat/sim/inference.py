"""Inference availability: at every instant, can the surviving replicas serve each region's demand
within the latency SLO? Capacity per site is a step function (outages, withdrawals, every replica's
node faults, spot preemptions and failure-domain events, redeploys), evaluated at every instant where
it changes; each distinct capacity state is solved once as a max-flow sites -> regions."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from computemoat.model import InferencePlacement, InferenceService, Scenario, Tier
from computemoat.reliability import model_memo
from computemoat.sim.faults import FaultModel
from computemoat.sim.serving import demand_by_utc_hour, least_rtt_flow, max_flow, utc_hour, weighted_quantiles
from computemoat.sim.streams import Arrivals, stream, unit_exponential
from computemoat.sim.timeline import NS_PER_HOUR, NS_PER_S, Timeline

ALL_REGIONS = "*"  # row meaning: every region served at once


@dataclass
class Deployment:
    """Replicas of one placement, paid over ``[start_ns, end_ns)``, serving from ``ready_ns``."""

    placement: InferencePlacement
    start_ns: int
    ready_ns: int
    end_ns: int
    resized: bool = False  # ended because a bigger/smaller deployment of the same offering took over


@dataclass(frozen=True)
class RegionAvailability:
    service_id: str
    region: str
    demand_rps: float
    availability: float  # fraction of time the region's whole demand is served within the SLO
    served_fraction: float  # time-averaged share of the region's demand served
    rtt_p50_ms: float = math.nan  # RTT of served requests (request- and time-weighted); NaN: no RTT matrix
    rtt_p95_ms: float = math.nan
    degraded_rtt_p50_ms: float = math.nan  # the same while some site runs below its full capacity
    degraded_rtt_p95_ms: float = math.nan
    degraded_hours: float = 0.0  # time with some capacity of the service lost (any region)


def replica_down_windows(
    scenario: Scenario, dep: Deployment, faults: FaultModel, seed: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Windows in which one replica of ``dep`` is down, disjoint per replica (so a count of open windows
    is the number of replicas down): node faults (back after the restart overhead), spot preemption
    (back after ``spot_replace_hours``) and failure domains (packed: each domain holds ``gpus //
    gpus_per_replica`` replicas, back after an exponential repair). All are one Poisson process at the
    total rate whose arrivals pick their victim in proportion to its rate, from one stream per placement
    (keyed by service and offering), so plans that share a placement share its draws."""
    p = dep.placement
    if not faults.random_faults or dep.end_ns <= dep.ready_ns:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    rate, first, count, down = _victims(scenario, faults, p)
    total = float(rate.sum())
    if total <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    arr = Arrivals(stream(seed, "placement", p.service_id, p.offering_id), total / NS_PER_HOUR)
    t, u, r = arr.take(dep.ready_ns, dep.end_ns)
    v = unit_exponential(r)
    which = np.minimum(np.searchsorted(np.cumsum(rate) / total, u, side="right"), rate.size - 1)
    length = np.where(down[which] >= 0, down[which], -down[which] * v).astype(np.int64)
    hit = count[which].astype(np.int64)
    rid = np.repeat(first[which].astype(np.int64), hit) + _ranges(hit)
    st = np.repeat(t, hit)
    return _disjoint_per_replica(st, np.minimum(st + np.repeat(length, hit), dep.end_ns), rid)


def _victims(
    scenario: Scenario, faults: FaultModel, p: InferencePlacement
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """(rate per hour, first replica, replicas hit, down ns or -1 x mean repair ns) of every victim of a
    placement: each replica's node faults and spot preemptions, each failure domain's block of replicas.
    Fixed by the placement and the FaultModel: memoised per model, not rebuilt every run."""
    svc = next(s for s in scenario.inference_services if s.id == p.service_id)
    gpr = max(1, svc.gpus_per_replica)
    per_instance = scenario.offering(p.offering_id).gpus_per_instance
    key = (gpr, per_instance, p.replicas, p.tier, p.provider)
    memo = model_memo(faults, "sim.replica_victims")
    found = memo.get(key)
    if found is not None:
        return found
    node_rate, domain_rate = faults.gpu_rates()
    slots: list[tuple[float, int, int, float]] = []
    slots += [(gpr * node_rate, i, 1, faults.gpu.restart_overhead_s * NS_PER_S) for i in range(p.replicas)]
    if p.tier == Tier.spot:
        spot_h = -(-gpr // per_instance) * faults.spot_per_instance_hour(p.provider)
        slots += [(spot_h, i, 1, faults.spot_replace_hours * NS_PER_HOUR) for i in range(p.replicas)]
    for d in faults.active_domains():
        if d.gpus is None or domain_rate.get(d.name, 0.0) <= 0:
            continue
        per = max(1, d.gpus // gpr)
        slots += [
            (domain_rate[d.name], j * per, min(per, p.replicas - j * per), -d.repair_hours * NS_PER_HOUR)
            for j in range(-(-p.replicas // per))
        ]
    arrays = tuple(np.array(c, dtype=np.float64) for c in zip(*slots, strict=True))
    out = (arrays[0], arrays[1], arrays[2], arrays[3])
    memo[key] = out
    return out


def _ranges(counts: NDArray[np.int64]) -> NDArray[np.int64]:
    """0..c-1 for each c, concatenated."""
    if counts.size == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(counts)
    return np.arange(int(ends[-1]), dtype=np.int64) - np.repeat(ends - counts, counts)


def _disjoint_per_replica(
    st: NDArray[np.int64], en: NDArray[np.int64], rid: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Union of each replica's windows (two faults of one replica overlap: it is down once). One pass
    for all replicas: each replica's windows are shifted onto its own stretch of one long time line
    (rank x span), so a running maximum of the ends never carries over from one replica to the next."""
    if st.size == 0:
        return st, en
    order = np.lexsort((st, rid))
    st, en, rid = st[order], en[order], rid[order]
    lo = int(st.min())
    span = int(en.max()) - lo + 1
    rank = np.concatenate(([0], np.cumsum(rid[1:] != rid[:-1])))
    if (int(rank[-1]) + 1) * span >= 2**62:  # int64 would overflow: one replica at a time
        return _disjoint_loop(st, en, rid)
    shift = rank * span - lo
    s2, e2 = st + shift, en + shift
    run_end = np.maximum.accumulate(e2)
    new = np.ones(st.size, dtype=bool)
    new[1:] = s2[1:] > run_end[:-1]
    group = np.cumsum(new) - 1
    out_e = np.zeros(int(group[-1]) + 1, dtype=np.int64)
    np.maximum.at(out_e, group, e2)
    return st[new], out_e - shift[new]


def _disjoint_loop(
    st: NDArray[np.int64], en: NDArray[np.int64], rid: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The same union replica by replica (inputs sorted by replica, then start)."""
    out_s: list[NDArray[np.int64]] = []
    out_e: list[NDArray[np.int64]] = []
    bounds = np.flatnonzero(np.diff(rid)) + 1
    for a, b in zip(np.concatenate(([0], bounds)), np.concatenate((bounds, [rid.size])), strict=True):
        run_end = np.maximum.accumulate(en[a:b])
        new = np.ones(b - a, dtype=bool)
        new[1:] = st[a + 1 : b] > run_end[:-1]
        group = np.cumsum(new) - 1
        e = np.zeros(int(group[-1]) + 1, dtype=np.int64)
        np.maximum.at(e, group, en[a:b])
        out_s.append(st[a:b][new])
        out_e.append(e)
    return np.concatenate(out_s), np.concatenate(out_e)


def _replicas_up(
    dep: Deployment, timeline: Timeline, windows: tuple[NDArray[np.int64], NDArray[np.int64]], edges: NDArray[np.int64]
) -> NDArray[np.float64]:
    """Replicas serving at each ``edges`` instant: deployed and ready, site up, minus replicas down."""
    p = dep.placement
    alive = (edges >= dep.ready_ns) & (edges < dep.end_ns)
    starts, ends = timeline.down_intervals(p.site_id)
    i = np.searchsorted(starts, edges, side="right") - 1
    down = (i >= 0) & (ends[np.maximum(i, 0)] > edges) if len(starts) else np.zeros(len(edges), bool)
    ws, we = np.sort(windows[0]), np.sort(windows[1])
    lost = np.searchsorted(ws, edges, side="right") - np.searchsorted(we, edges, side="right")
    return np.where(alive & ~down, np.maximum(p.replicas - lost, 0), 0).astype(np.float64)


def _breakpoints(
    deps: list[Deployment],
    windows: list[tuple[NDArray[np.int64], NDArray[np.int64]]],
    timeline: Timeline,
    horizon_ns: int,
) -> NDArray[np.int64]:
    """Every instant at which some capacity changes: deploys, site outages and every replica fault."""
    parts = [np.array([0, horizon_ns], dtype=np.int64)]
    for d, (ws, we) in zip(deps, windows, strict=True):
        parts.append(np.array([d.ready_ns, d.end_ns], dtype=np.int64))
        parts.extend(timeline.down_intervals(d.placement.site_id))
        parts += [ws, we]
    return np.unique(np.clip(np.concatenate(parts), 0, horizon_ns))


def service_availability(
    scenario: Scenario,
    service: InferenceService,
    deployments: list[Deployment],
    timeline: Timeline,
    faults: FaultModel,
    eligible: dict[tuple[str, str], bool],
    seed: int,
    rtt_ms: NDArray[np.float64] | None = None,
) -> list[RegionAvailability]:
    """Per region: share of ``[0, horizon)`` in which its whole demand is served within the SLO (plus the
    served share), and with an RTT matrix the RTT its served requests see (p50/p95 overall and while
    capacity is degraded). Demand follows the day when ``faults.diurnal_peak_to_mean`` > 1."""
    demand_map = scenario.demand_rps(service)
    regions = sorted(demand_map)
    demand = np.array([demand_map[r] for r in regions])
    horizon_ns = timeline.horizon_ns
    if not deployments:
        total_rps = float(demand.sum())
        return [
            RegionAvailability(service.id, r, demand_map.get(r, total_rps), 0.0, 0.0) for r in (*regions, ALL_REGIONS)
        ]
    windows = [replica_down_windows(scenario, d, faults, seed) for d in deployments]
    edges = _breakpoints(deployments, windows, timeline, horizon_ns)
    diurnal = faults.diurnal_peak_to_mean > 1.0
    if diurnal:
        edges = np.union1d(edges, np.arange(0, horizon_ns, NS_PER_HOUR, dtype=np.int64))
    starts, widths = edges[:-1], np.diff(edges).astype(np.float64)
    site_ids = sorted({d.placement.site_id for d in deployments})
    col = {s: i for i, s in enumerate(site_ids)}
    capacity = np.zeros((starts.size, len(site_ids)))
    for d, w in zip(deployments, windows, strict=True):
        capacity[:, col[d.placement.site_id]] += _replicas_up(d, timeline, w, starts) * service.rps_per_replica
    ok = np.array([[eligible.get((r, s), False) for r in regions] for s in site_ids], dtype=bool)
    lon = {u.name: u.lon_deg for u in scenario.user_regions}
    factor = demand_by_utc_hour(np.array([lon.get(r, 0.0) for r in regions]), faults.diurnal_peak_to_mean)
    hour = utc_hour(starts) if diurnal else np.zeros(starts.size, dtype=np.int64)
    rtt = _rtt_block(scenario, rtt_ms, site_ids, regions)
    keys, inverse = np.unique(np.column_stack((capacity, hour)), axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    state_demand = demand[None, :] * factor[keys[:, -1].astype(np.int64)]  # states x regions
    if len(regions) == 1 and (rtt is None or ok.sum() <= 1):  # max_flow's one-region rule, every state at once
        take = np.where(ok[:, 0][None, :], keys[:, :-1], 0.0)  # states x sites
        supply = take.sum(axis=1)
        share = np.where(supply > 0, np.minimum(state_demand[:, 0] / np.where(supply > 0, supply, 1.0), 1.0), 0.0)
        flows = (take * share[:, None])[:, :, None]
    else:
        flows = np.stack(
            [
                least_rtt_flow(k[:-1], sd, ok, rtt) if rtt is not None else max_flow(k[:-1], sd, ok)
                for k, sd in zip(keys, state_demand, strict=True)
            ]
        )  # states x sites x regions
    served = np.where(state_demand > 0, flows.sum(axis=1) / np.maximum(state_demand, 1e-300), 1.0)[inverse]
    full = served >= 1.0 - 1e-6
    avail = 1.0 - (widths[:, None] * ~full).sum(axis=0) / horizon_ns  # exactly 1.0 when never short
    frac = (widths[:, None] * np.minimum(served, 1.0)).sum(axis=0) / horizon_ns
    all_ok = full.all(axis=1)
    total = float(demand.sum())
    degraded = (capacity < capacity.max(axis=0)[None, :]).any(axis=1)
    rtt_cols = _rtt_stats(flows, inverse, widths, degraded, rtt) if rtt is not None else None
    rows = []
    for i, r in enumerate(regions):
        extra = rtt_cols[i] if rtt_cols is not None else {}
        rows.append(RegionAvailability(service.id, r, demand_map[r], float(avail[i]), float(frac[i]), **extra))
    every = RegionAvailability(
        service.id,
        ALL_REGIONS,
        total,
        float(1.0 - (widths * ~all_ok).sum() / horizon_ns),
        float((widths * (np.minimum(served, 1.0) @ demand) / total).sum() / horizon_ns),
        degraded_hours=float(widths[degraded].sum() / NS_PER_HOUR),
    )
    return [*rows, every]


def _rtt_block(
    scenario: Scenario, rtt_ms: NDArray[np.float64] | None, site_ids: list[str], regions: list[str]
) -> NDArray[np.float64] | None:
    if rtt_ms is None:
        return None
    si = {s.id: j for j, s in enumerate(scenario.sites)}
    ri = {u.name: i for i, u in enumerate(scenario.user_regions)}
    if any(r not in ri for r in regions):
        return None
    return np.array([[rtt_ms[ri[r], si[s]] for r in regions] for s in site_ids], dtype=np.float64)


def _rtt_stats(
    flows: NDArray[np.float64],
    inverse: NDArray[np.intp],
    widths: NDArray[np.float64],
    degraded: NDArray[np.bool_],
    rtt: NDArray[np.float64],
) -> list[dict[str, float]]:
    """Per region: RTT quantiles of served requests (weight = requests/s x time), overall and degraded."""
    n_states = flows.shape[0]
    t_all = np.bincount(inverse, weights=widths, minlength=n_states)
    t_deg = np.bincount(inverse, weights=widths * degraded, minlength=n_states)
    out = []
    for r in range(flows.shape[2]):
        w_all = (flows[:, :, r] * t_all[:, None]).sum(axis=0)
        w_deg = (flows[:, :, r] * t_deg[:, None]).sum(axis=0)
        p50, p95 = weighted_quantiles(rtt[:, r], w_all, (0.5, 0.95))
        d50, d95 = weighted_quantiles(rtt[:, r], w_deg, (0.5, 0.95))
        out.append(
            {
                "rtt_p50_ms": p50,
                "rtt_p95_ms": p95,
                "degraded_rtt_p50_ms": d50,
                "degraded_rtt_p95_ms": d95,
                "degraded_hours": float(widths[degraded].sum() / NS_PER_HOUR),
            }
        )
    return out
