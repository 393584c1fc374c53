"""Inference availability: at every instant, can the surviving replicas serve each region's demand
within the latency SLO? Capacity per site is a step function (outages, withdrawals, every replica's
node faults, spot preemptions and failure-domain events, redeploys), evaluated at every instant where
it changes; each distinct capacity state is solved once as a max-flow sites -> regions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_flow

from computemoat.model import InferencePlacement, InferenceService, Scenario, Tier
from computemoat.sim.faults import FaultModel
from computemoat.sim.streams import Arrivals, stream
from computemoat.sim.timeline import NS_PER_HOUR, NS_PER_S, Timeline

FLOW_SCALE_MAX = 1_000_000_000  # max-flow needs int32 capacities
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
    svc = next(s for s in scenario.inference_services if s.id == p.service_id)
    gpr = max(1, svc.gpus_per_replica)
    node_rate, domain_rate = faults.gpu_rates()
    # victims: (rate per hour, first replica, replicas hit, down ns or -1 for an exponential repair)
    slots: list[tuple[float, int, int, float]] = []
    slots += [(gpr * node_rate, i, 1, faults.gpu.restart_overhead_s * NS_PER_S) for i in range(p.replicas)]
    if p.tier == Tier.spot:
        per_instance = scenario.offering(p.offering_id).gpus_per_instance
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
    rate, first, count, down = (np.array(c, dtype=np.float64) for c in zip(*slots, strict=True))
    total = float(rate.sum())
    if total <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    arr = Arrivals(stream(seed, "placement", p.service_id, p.offering_id), total / NS_PER_HOUR)
    t, u, v = arr.take(dep.ready_ns, dep.end_ns)
    which = np.minimum(np.searchsorted(np.cumsum(rate) / total, u, side="right"), rate.size - 1)
    length = np.where(down[which] >= 0, down[which], -down[which] * v).astype(np.int64)
    hit = count[which].astype(np.int64)
    rid = np.repeat(first[which].astype(np.int64), hit) + _ranges(hit)
    st = np.repeat(t, hit)
    return _disjoint_per_replica(st, np.minimum(st + np.repeat(length, hit), dep.end_ns), rid)


def _ranges(counts: NDArray[np.int64]) -> NDArray[np.int64]:
    """0..c-1 for each c, concatenated."""
    if counts.size == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(counts)
    return np.arange(int(ends[-1]), dtype=np.int64) - np.repeat(ends - counts, counts)


def _disjoint_per_replica(
    st: NDArray[np.int64], en: NDArray[np.int64], rid: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Union of each replica's windows (two faults of one replica overlap: it is down once)."""
    if st.size == 0:
        return st, en
    order = np.lexsort((st, rid))
    st, en, rid = st[order], en[order], rid[order]
    out_s: list[NDArray[np.int64]] = []
    out_e: list[NDArray[np.int64]] = []
    bounds = np.flatnonzero(np.diff(rid)) + 1
    for a, b in zip(np.concatenate(([0], bounds)), np.concatenate((bounds, [rid.size])), strict=True):
        if b - a == 1:
            out_s.append(st[a:b])
            out_e.append(en[a:b])
            continue
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


def _served(capacity: NDArray[np.float64], demand: NDArray[np.float64], eligible: NDArray[np.bool_]) -> NDArray:
    """Max-flow source -> site (capacity) -> region (if within SLO) -> sink (demand); served per region."""
    n_sites, n_regions = capacity.size, demand.size
    if n_regions == 1:  # one region: the flow is all the capacity of its eligible sites, up to demand
        one = float(capacity[eligible[:, 0]].sum())
        return np.array([min(one / demand[0], 1.0) if demand[0] > 0 else 1.0])
    scale = FLOW_SCALE_MAX / max(capacity.sum(), demand.sum(), 1e-9)
    cap = np.round(capacity * scale).astype(np.int64)
    dem = np.round(demand * scale).astype(np.int64)
    src, sink = 0, 1 + n_sites + n_regions
    si, ri = np.nonzero(eligible)
    rows = np.concatenate((np.full(n_sites, src), 1 + si, 1 + n_sites + np.arange(n_regions)))
    cols = np.concatenate((1 + np.arange(n_sites), 1 + n_sites + ri, np.full(n_regions, sink)))
    vals = np.concatenate((cap, np.full(si.size, FLOW_SCALE_MAX, dtype=np.int64), dem))
    graph = csr_matrix((vals.astype(np.int32), (rows, cols)), shape=(sink + 1, sink + 1))
    flow = maximum_flow(graph, src, sink).flow
    got = np.array([flow[1 + n_sites + r, sink] for r in range(n_regions)], dtype=np.float64)
    return np.where(dem > 0, got / np.maximum(dem, 1), 1.0)


def service_availability(
    scenario: Scenario,
    service: InferenceService,
    deployments: list[Deployment],
    timeline: Timeline,
    faults: FaultModel,
    eligible: dict[tuple[str, str], bool],
    seed: int,
) -> list[RegionAvailability]:
    """Per region: share of ``[0, horizon)`` in which its whole demand is served (plus the served share)."""
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
    starts, widths = edges[:-1], np.diff(edges).astype(np.float64)
    site_ids = sorted({d.placement.site_id for d in deployments})
    col = {s: i for i, s in enumerate(site_ids)}
    capacity = np.zeros((starts.size, len(site_ids)))
    for d, w in zip(deployments, windows, strict=True):
        capacity[:, col[d.placement.site_id]] += _replicas_up(d, timeline, w, starts) * service.rps_per_replica
    ok = np.array([[eligible.get((r, s), False) for r in regions] for s in site_ids], dtype=bool)
    states, inverse = np.unique(capacity, axis=0, return_inverse=True)
    served = np.vstack([_served(row, demand, ok) for row in states])[inverse.reshape(-1)]
    full = served >= 1.0 - 1e-6
    avail = 1.0 - (widths[:, None] * ~full).sum(axis=0) / horizon_ns  # exactly 1.0 when never short
    frac = (widths[:, None] * np.minimum(served, 1.0)).sum(axis=0) / horizon_ns
    all_ok = full.all(axis=1)
    total = float(demand.sum())
    every = RegionAvailability(
        service.id,
        ALL_REGIONS,
        total,
        float(1.0 - (widths * ~all_ok).sum() / horizon_ns),
        float((widths * (np.minimum(served, 1.0) @ demand) / total).sum() / horizon_ns),
    )
    return [
        *(
            RegionAvailability(service.id, r, demand_map[r], float(avail[i]), float(frac[i]))
            for i, r in enumerate(regions)
        ),
        every,
    ]
