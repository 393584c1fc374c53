"""Each region's nominal traffic, once the replicas are placed: min sum rps x RTT over its sites.

The MILP serves demand keys (regions merged when they reach the same sites, flatten.py), which is
exact for feasibility and cost but says nothing about which region goes where. This LP splits it:

    min  sum_r rtt_r z_r + P sum_d u_d
    s.t. sum_{r in d} z_r + u_d = rps_d                         every demand row (service, region)
         sum_{r at (s, site)} z_r <= rps_per_replica_s x replicas of s at site
         z, u >= 0

over the nominal routes (region, site within SLO and residency). P (1e6 ms) makes serving come
first, so u is non-zero only where the MILP itself left nominal demand unserved (partial plans).
"""

from __future__ import annotations

import numpy as np

from computemoat.planner.flatten import FlatProblem

UNSERVED_MS = 1e6  # cost of a request/s not served, in RTT-ms: far above any real RTT


def route_nominal(flat: FlatProblem, replicas: np.ndarray) -> np.ndarray:
    """rps on every nominal route (flat.route_*) given ``replicas`` per replica variable."""
    import highspy

    from computemoat.planner.highs_run import new_highs

    n_route, n_dem = len(flat.route_dem), len(flat.d_svc)
    if n_route == 0:
        return np.zeros(0)
    ns = len(flat.site_ids)
    svc = flat.d_svc[flat.route_dem]
    serve_key, serve_row = np.unique(svc * ns + flat.route_site, return_inverse=True)
    capacity = np.zeros(len(serve_key))
    held = flat.r_svc * ns + flat.off_site[flat.r_off]
    pos = np.searchsorted(serve_key, held)
    hit = (pos < len(serve_key)) & (serve_key[np.minimum(pos, len(serve_key) - 1)] == held)
    np.add.at(capacity, pos[hit], (replicas * flat.r_rps_per_replica)[hit])
    rows = np.concatenate([flat.route_dem, n_dem + serve_row, np.arange(n_dem)])
    cols = np.concatenate([np.arange(n_route), np.arange(n_route), n_route + np.arange(n_dem)])
    order = np.lexsort((rows, cols))
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n_route + n_dem, n_dem + len(serve_key)
    lp.col_cost_ = np.concatenate([flat.route_rtt_ms, np.full(n_dem, UNSERVED_MS)])
    lp.col_lower_ = np.zeros(lp.num_col_)
    lp.col_upper_ = np.full(lp.num_col_, np.inf)
    lp.row_lower_ = np.concatenate([flat.d_rps, np.full(len(serve_key), -np.inf)])
    lp.row_upper_ = np.concatenate([flat.d_rps, capacity])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.searchsorted(cols[order], np.arange(lp.num_col_ + 1)).astype(np.int32)
    lp.a_matrix_.index_ = rows[order].astype(np.int32)
    lp.a_matrix_.value_ = np.ones(len(rows))
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = lp.num_col_, lp.num_row_
    h = new_highs()
    h.passModel(lp)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise RuntimeError(f"routing LP: {h.modelStatusToString(h.getModelStatus())}")
    return np.asarray(h.getSolution().col_value)[:n_route]
