"""Who serves whom in one capacity state: demand over the day per region, the flow from sites to
regions within the SLO, and the RTT the served requests see (so failover to a farther site shows up).

* Diurnal demand: a region's demand is its daily mean (the scenario's ``demand_rps``) times
  1 + (peak/mean - 1) cos(2π (local solar hour - 14)/24), constant within each UTC hour; the plan is
  sized for the mean, so N+k is tested at the afternoon peak.
* Flow: with an RTT matrix, the max flow of least total RTT (an LP on HiGHS via scipy: maximise served
  requests, then minimise RTT with a weight too small to trade one request); without one, a max-flow.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linprog
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import maximum_flow

from computemoat.sim.timeline import NS_PER_HOUR

FLOW_SCALE_MAX = 1_000_000_000  # max-flow needs int32 capacities
PEAK_LOCAL_HOUR = 14.0  # assumption: afternoon peak of interactive traffic


def demand_by_utc_hour(lon_deg: NDArray[np.float64], peak_to_mean: float) -> NDArray[np.float64]:
    """Factor on each region's mean demand for every UTC hour 0..23 (24 x regions), mean 1 per region."""
    local_h = (np.arange(24)[:, None] + 0.5 + lon_deg[None, :] / 15.0) % 24.0
    return 1.0 + (peak_to_mean - 1.0) * np.cos(2 * math.pi * (local_h - PEAK_LOCAL_HOUR) / 24.0)


def utc_hour(t_ns: NDArray[np.int64]) -> NDArray[np.int64]:
    return (t_ns // NS_PER_HOUR) % 24


def max_flow(capacity: NDArray[np.float64], demand: NDArray[np.float64], eligible: NDArray[np.bool_]) -> NDArray:
    """Max-flow source -> site (capacity) -> region (if eligible) -> sink (demand); (sites x regions) flow."""
    n_sites, n_regions = capacity.size, demand.size
    out = np.zeros((n_sites, n_regions))
    if n_regions == 1:  # one region: all the capacity of its eligible sites, up to its demand
        take = np.where(eligible[:, 0], capacity, 0.0)
        share = min(demand[0] / take.sum(), 1.0) if take.sum() > 0 else 0.0
        out[:, 0] = take * share
        return out
    scale = FLOW_SCALE_MAX / max(capacity.sum(), demand.sum(), 1e-9)
    cap = np.round(capacity * scale).astype(np.int64)
    dem = np.round(demand * scale).astype(np.int64)
    src, sink = 0, 1 + n_sites + n_regions
    si, ri = np.nonzero(eligible)
    rows = np.concatenate((np.full(n_sites, src), 1 + si, 1 + n_sites + np.arange(n_regions)))
    cols = np.concatenate((1 + np.arange(n_sites), 1 + n_sites + ri, np.full(n_regions, sink)))
    vals = np.concatenate((cap, np.full(si.size, FLOW_SCALE_MAX, dtype=np.int64), dem))
    graph = csr_matrix((vals.astype(np.int32), (rows, cols)), shape=(sink + 1, sink + 1))
    flow = maximum_flow(graph, src, sink).flow.toarray()  # type: ignore[arg-type]  # stubs want csr_array
    out[si, ri] = flow[1 + si, 1 + n_sites + ri] / scale
    return out


def least_rtt_flow(
    capacity: NDArray[np.float64], demand: NDArray[np.float64], eligible: NDArray[np.bool_], rtt_ms: NDArray
) -> NDArray:
    """The max flow that, among max flows, has the least request-weighted RTT (sites x regions)."""
    si, ri = np.nonzero(eligible)
    out = np.zeros(eligible.shape)
    if si.size == 0:
        return out
    n_sites, n_regions = eligible.shape
    eps = 1e-4 / max(float(rtt_ms[si, ri].max()), 1.0)  # < 1 request's worth over the whole flow
    c = -1.0 + eps * rtt_ms[si, ri]
    k = np.arange(si.size)
    a = coo_matrix(
        (np.ones(2 * si.size), (np.concatenate((si, n_sites + ri)), np.concatenate((k, k)))),
        shape=(n_sites + n_regions, si.size),
    )
    res = linprog(  # type: ignore[call-overload]  # scipy-stubs: no overload takes a csr_matrix A_ub
        c, A_ub=a.tocsr(), b_ub=np.concatenate((capacity, demand)), bounds=(0, None), method="highs"
    )
    if res.status != 0:  # never for this bounded feasible LP; fall back to a plain max-flow
        return max_flow(capacity, demand, eligible)
    out[si, ri] = res.x
    return out


def weighted_quantiles(values: NDArray, weights: NDArray, qs: tuple[float, ...]) -> list[float]:
    """Quantiles of a weighted sample (inverse of the weighted CDF); NaN where there is no weight."""
    w = np.asarray(weights, dtype=np.float64)
    if w.sum() <= 0:
        return [math.nan] * len(qs)
    order = np.argsort(values)
    v, cw = np.asarray(values)[order], np.cumsum(w[order]) / w.sum()
    return [float(v[min(int(np.searchsorted(cw, q, side="left")), v.size - 1)]) for q in qs]
