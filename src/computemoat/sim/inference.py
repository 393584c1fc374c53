"""Inference availability: at every instant, can the surviving replicas serve each region's demand
within the latency SLO? Capacity per site is a step function (outages, withdrawals, spot preemptions,
redeploys); each distinct capacity state is solved once as a max-flow sites -> regions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_flow

from computemoat.model import InferencePlacement, InferenceService, Scenario, Tier
from computemoat.sim.faults import FaultModel
from computemoat.sim.timeline import NS_PER_HOUR, Timeline, hours_to_ns

FLOW_SCALE_MAX = 1_000_000_000  # max-flow needs int32 capacities
ALL_REGIONS = "*"  # row meaning: every region served at once


@dataclass
class Deployment:
    """Replicas of one placement, paid over ``[start_ns, end_ns)``, serving from ``ready_ns``."""

    placement: InferencePlacement
    start_ns: int
    ready_ns: int
    end_ns: int


@dataclass(frozen=True)
class RegionAvailability:
    service_id: str
    region: str
    demand_rps: float
    availability: float  # fraction of time the region's whole demand is served within the SLO
    served_fraction: float  # time-averaged share of the region's demand served


def _step_up(
    dep: Deployment, timeline: Timeline, faults: FaultModel, edges: NDArray[np.int64], rng: np.random.Generator
) -> NDArray[np.float64]:
    """Replicas up at each ``edges`` instant."""
    p = dep.placement
    alive = (edges >= dep.ready_ns) & (edges < dep.end_ns)
    starts, ends = timeline.down_intervals(p.site_id)
    i = np.searchsorted(starts, edges, side="right") - 1
    down = (i >= 0) & (ends[np.maximum(i, 0)] > edges) if len(starts) else np.zeros(len(edges), bool)
    up = np.where(alive & ~down, float(p.replicas), 0.0)
    return up - _spot_down(dep, faults, edges, rng) if p.tier == Tier.spot else up


def spot_events(
    dep: Deployment, faults: FaultModel, rng: np.random.Generator
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Preemptions of any of the replicas, each replica lost for ``spot_replace_hours``."""
    p = dep.placement
    rate_per_ns = p.replicas * faults.spot_per_instance_hour(p.provider) / NS_PER_HOUR
    span = max(dep.end_ns - dep.ready_ns, 0)
    n = int(rng.poisson(rate_per_ns * span)) if faults.random_faults and rate_per_ns > 0 else 0
    st = np.sort(rng.integers(dep.ready_ns, dep.ready_ns + max(span, 1), size=n, dtype=np.int64))
    return st, np.sort(st + hours_to_ns(faults.spot_replace_hours))


def _spot_down(
    dep: Deployment, faults: FaultModel, edges: NDArray[np.int64], rng: np.random.Generator
) -> NDArray[np.float64]:
    st, en = spot_events(dep, faults, rng)
    count = np.searchsorted(st, edges, side="right") - np.searchsorted(en, edges, side="right")
    return np.minimum(count, dep.placement.replicas).astype(np.float64)


def _breakpoints(deps: list[Deployment], timeline: Timeline, horizon_ns: int) -> NDArray[np.int64]:
    parts = [np.array([0, horizon_ns], dtype=np.int64)]
    for d in deps:
        parts.append(np.array([d.ready_ns, d.end_ns], dtype=np.int64))
        parts.extend(timeline.down_intervals(d.placement.site_id))
    return np.unique(np.clip(np.concatenate(parts), 0, horizon_ns))


def _served(capacity: NDArray[np.float64], demand: NDArray[np.float64], eligible: NDArray[np.bool_]) -> NDArray:
    """Max-flow source -> site (capacity) -> region (if within SLO) -> sink (demand); served per region."""
    n_sites, n_regions = capacity.size, demand.size
    scale = FLOW_SCALE_MAX / max(capacity.sum(), demand.sum(), 1e-9)
    cap = np.round(capacity * scale).astype(np.int64)
    dem = np.round(demand * scale).astype(np.int64)
    src, sink = 0, 1 + n_sites + n_regions
    rows, cols, vals = [], [], []
    for s in range(n_sites):
        rows.append(src), cols.append(1 + s), vals.append(cap[s])
    si, ri = np.nonzero(eligible)
    for s, r in zip(si, ri, strict=True):
        rows.append(1 + s), cols.append(1 + n_sites + r), vals.append(FLOW_SCALE_MAX)
    for r in range(n_regions):
        rows.append(1 + n_sites + r), cols.append(sink), vals.append(dem[r])
    graph = csr_matrix((np.array(vals, dtype=np.int32), (rows, cols)), shape=(sink + 1, sink + 1))
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
    rng: np.random.Generator,
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
    edges = _breakpoints(deployments, timeline, horizon_ns)
    starts, widths = edges[:-1], np.diff(edges).astype(np.float64)
    site_ids = sorted({d.placement.site_id for d in deployments})
    col = {s: i for i, s in enumerate(site_ids)}
    capacity = np.zeros((starts.size, len(site_ids)))
    for d in deployments:
        capacity[:, col[d.placement.site_id]] += _step_up(d, timeline, faults, starts, rng) * service.rps_per_replica
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
