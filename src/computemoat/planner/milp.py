r"""The placement MILP, built from the arrays of :mod:`computemoat.planner.flatten`.

Sets
    J training jobs; C training candidates c = (job, offering o(c), tier); O offerings;
    S services; V replica variables v = (service, offering); D demand rows d = (service, region);
    F failure sets f of a service (f = {} plus every set of k providers that can serve it);
    A assignments a = (d, site, f) with RTT(region, site) <= SLO, residency allowed, site not in f;
    P providers; W sites with a power cap.

Variables
    x_c in {0,1}       job placed on candidate c           (gang: all its GPUs at one offering)
    y_v in Z+          replicas of a service at an offering
    z_a >= 0           requests/s of a demand row served by a site while failure set f is down
    T, G >= 0          total spend (USD) and total GPUs, so the caps below are linear
    u_v in {0,1}       (replan only) replica variable v is a new placement, paying the move penalty
    s_j in {0,1}       (allow_unplaced only) job j is not placed, paying the unplaced penalty P
    w_df >= 0          (allow_unplaced only) requests/s of demand row d not served under failure set f,
                       paying P / rps_per_replica per rps (so P per replica-worth of unserved demand)

Objective
    min  sum_c cost_c x_c + sum_v cost_v y_v  [+ move penalties] [+ P sum_j s_j + sum_df P/rpr w_df]
    cost_c = gpus x hours x ($/GPU-h(tier) x price_multiplier + energy); cost_v = gpus_per_replica x
    horizon_hours x ($/GPU-h on-demand x multiplier + energy); energy = board_W x PUE x $/kWh / 1000
    when the scenario prices energy. Ties between sites are broken after the MILP, by an LP with the
    integers fixed: min eps * sum_{a: f(a)={}} rtt_a z_a (eps = 1e-6 $ per rps*ms; ``tie_cost``).
    P (``unplaced_penalty_usd``) is far above any real cost: 100 x the dearest single candidate.
    Slack that is forced (no candidate at all, no site for a demand row under f) is fixed at 0 cost.

Constraints (row names in brackets)
    [assign_job]     sum_{c in j} x_c (+ s_j) = 1                               every job placed once
    [capacity]       sum_{c: o(c)=o} gpus_c x_c + sum_{v: o(v)=o} gpr_v y_v <= capacity_o
    [power]          sum over the site's offerings of GPUs x board_W x PUE / 1e6 <= power_capacity_mw
    [demand]         sum_{a in (d, f)} z_a (+ w_df) = rps_d              for every d and every f of its service
    [serve]          sum_{a in (s, site, f)} z_a <= rps_per_replica x sum_{v: s, site(v)=site} y_v
                     (failed providers have no z columns, so each f's survivors carry all demand: N+k)
    [cover]          sum_{v in s, provider(v) not in f} y_v >= ceil(sum_r rps_{s,r} / rps_per_replica)
                     (a valid cut implied by [demand]+[serve] in integers; it tightens the LP bound)
    [region_cover]   the same per (d, f): replicas at sites serving d under f >= ceil(rps_d / rps_per_replica)
                     (with slack, + need/rps x w on the left: w = rps frees the row; a partly served row
                     may then hold one replica more than strictly needed — a restriction, never invalid)
    [min_replicas]   sum_{v in s} y_v >= min_replicas_s
    [counted]        c_s <= sum_{v in s} y_v,  0 <= c_s <= U_s = (1 + k_s) sum_r ceil(rps_{s,r} / rps_per_replica)
    [total_spend]    T = sum cost x + sum_s cheapest_replica_cost_s c_s;  [spend_cap] spend_p - cap_spend T <= 0
    [total_gpus]     G = sum gpus x + sum_s gpr_s c_s;                    [gpu_cap]   gpus_p - cap_gpus G <= 0
                     Why "counted" and not sum y: with T = sum cost y a binding cap is cheapest to meet by
                     *diluting* - buying idle replicas at other providers to grow the denominator (seen on
                     the default scenario: ~1,500 idle L4s to keep atlas under 85% of GPUs). Counting at
                     most U_s replicas per service, at its cheapest replica price, removes that incentive
                     beyond what N+k could ever use, while T and G stay <= the plan's real totals, so
                     every provider's real share is still <= its cap (the validator checks real shares).
    [new_placement]  y_v <= M_v u_v                                          (replan only)

Size: columns ~ |C| + |V| + |A|, with |A| = sum_s regions_s x sites_s x (1 + C(P_s, k_s)): the
scenario-based N+k formulation grows with the number of k-subsets of the providers able to serve a
service (6 providers: 7 copies at k=1, 16 at k=2, 21 at k=3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from computemoat.planner.flatten import TIERS, FlatProblem
from computemoat.planner.rows import Rows, expand_ranges

RTT_TIE_BREAK_USD_PER_RPS_MS = 1e-6


@dataclass(frozen=True)
class MilpModel:
    """A model ready for ``Highs.passModel``: CSC matrix, bounds, names and where each block lives."""

    col_cost: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    integrality: np.ndarray  # 0 continuous, 1 integer
    matrix: sp.csc_matrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    col_names: list[str]
    row_names: list[str]
    cols: dict[str, slice]  # x, y, z, T, G, u
    rows: dict[str, slice]  # one entry per bracketed constraint family
    u_of: np.ndarray  # replica variable index of each u column
    tie_cost: np.ndarray  # cost vector of the tie-break LP (nominal z: eps x RTT), zero elsewhere
    col_group: np.ndarray  # job index of each x and s column, -1 for every other column
    w_dem: np.ndarray  # demand row d of each w column (slack only)
    w_fail: np.ndarray  # failure set f of each w column (slack only)


def fail_label(flat: FlatProblem, f: int) -> str:
    failed = sorted(flat.provider_names[p] for p in flat.f_failed[f])
    return "nominal" if not failed else "without " + "+".join(failed)


def unplaced_penalty(flat: FlatProblem) -> float:
    """P: 100 x the dearest single candidate (job placement or replica), at least $1M."""
    dearest = max(float(flat.t_cost_usd.max(initial=0.0)), float(flat.r_cost_usd_per_replica.max(initial=0.0)))
    return 100.0 * max(dearest, 1e4)


def counted_replica_bound(flat: FlatProblem) -> np.ndarray:
    """U_s = (1 + k_s) x sum over regions of ceil(rps / rps_per_replica), at least min_replicas_s: the most
    replicas a service's N+k coverage can need region by region (per service index)."""
    sc = flat.scenario
    bound = np.zeros(len(flat.service_ids))
    per_replica = np.array([svc.rps_per_replica for svc in sc.inference_services], dtype=float)
    np.add.at(bound, flat.d_svc, np.ceil(flat.d_rps / per_replica[flat.d_svc] - 1e-9))
    k = np.array([svc.redundancy_k for svc in sc.inference_services], dtype=float)
    return np.maximum((1.0 + k) * bound, flat.svc_min_replicas)


def build(
    flat: FlatProblem,
    *,
    extra_cost_x: np.ndarray | None = None,
    new_placement_penalty_usd: np.ndarray | None = None,
    unplaced_penalty_usd: float | None = None,
) -> MilpModel:
    """Assemble the MILP above. ``extra_cost_x`` (per training candidate) and
    ``new_placement_penalty_usd`` (per replica variable; 0 = no penalty) are replan's move costs;
    ``unplaced_penalty_usd`` (P) adds the slack columns s and w (partial plans)."""
    sc = flat.scenario
    nx, ny, nz = len(flat.t_job), len(flat.r_svc), len(flat.a_dem)
    u_of = (
        np.flatnonzero(new_placement_penalty_usd > 0)
        if new_placement_penalty_usd is not None
        else np.zeros(0, dtype=np.int64)
    )
    nu = len(u_of)
    nf = len(flat.f_failed)
    # demand keys: every (demand row, failure set of its service), sorted by d * nf + f
    f_of_svc = [np.flatnonzero(flat.f_svc == s) for s in range(len(flat.service_ids))]
    dk = [d * nf + f_of_svc[flat.d_svc[d]] for d in range(len(flat.d_svc))]
    dkeys = np.sort(np.concatenate(dk)) if dk else np.zeros(0, dtype=np.int64)
    slack = unplaced_penalty_usd is not None
    nj = len(flat.job_ids) if slack else 0
    nw = len(dkeys) if slack else 0
    x0, y0, z0 = 0, nx, nx + ny
    t_col, g_col, u0 = nx + ny + nz, nx + ny + nz + 1, nx + ny + nz + 2
    s0 = u0 + nu
    w0 = s0 + nj
    # counted replicas per service (only when a provider cap exists): see [counted]
    capped = sc.policy.max_provider_share_spend is not None or sc.policy.max_provider_share_gpus is not None
    c_svc = np.unique(flat.r_svc) if capped else np.zeros(0, dtype=np.int64)
    c0 = w0 + nw
    ncol = c0 + len(c_svc)
    s_cols, w_cols, c_cols = np.arange(s0, w0), np.arange(w0, c0), np.arange(c0, ncol)
    x_cols, y_cols, z_cols = np.arange(x0, y0), np.arange(y0, z0), np.arange(z0, t_col)

    ones_x, ones_y = np.ones(nx), np.ones(ny)
    y_gpus = flat.r_gpus_per_replica
    y_cap = np.floor(flat.off_capacity_gpus[flat.r_off] / y_gpus)

    cost = np.zeros(ncol)
    cost[x_cols] = flat.t_cost_usd + (0.0 if extra_cost_x is None else extra_cost_x)
    cost[y_cols] = flat.r_cost_usd_per_replica
    nominal = flat.nominal_fail[flat.a_fail]
    tie_cost = np.zeros(ncol)
    tie_cost[z_cols] = np.where(nominal, RTT_TIE_BREAK_USD_PER_RPS_MS * flat.a_rtt_ms, 0.0)
    svc_rps = np.ones(len(flat.service_ids))
    svc_rps[flat.r_svc] = flat.r_rps_per_replica
    for s_, svc in enumerate(sc.inference_services):
        svc_rps[s_] = svc.rps_per_replica
    w_dem, w_fail = (dkeys // nf, dkeys % nf) if slack else (np.zeros(0, np.int64), np.zeros(0, np.int64))
    if slack:
        assert unplaced_penalty_usd is not None
        cost[s_cols] = unplaced_penalty_usd
        cost[w_cols] = unplaced_penalty_usd / svc_rps[flat.d_svc[w_dem]]
    if nu:
        assert new_placement_penalty_usd is not None
        cost[u0:s0] = new_placement_penalty_usd[u_of]
    lower = np.zeros(ncol)
    upper = np.full(ncol, np.inf)
    upper[x_cols] = 1.0
    upper[y_cols] = y_cap
    upper[z_cols] = flat.d_rps[flat.a_dem]
    upper[u0:s0] = 1.0
    upper[s_cols] = 1.0
    upper[w_cols] = flat.d_rps[w_dem]
    upper[c_cols] = counted_replica_bound(flat)[c_svc]
    if slack:
        # Forced slack (a job with no candidate, a demand row with no site under its failure set) is
        # fixed and costs 0: a constant P in the objective would swamp the relative MIP gap.
        forced_s = ~np.isin(np.arange(nj), flat.t_job)
        forced_w = ~np.isin(dkeys, flat.a_dem * nf + flat.a_fail)
        lower[s_cols[forced_s]] = 1.0
        lower[w_cols[forced_w]] = upper[w_cols[forced_w]]
        cost[s_cols[forced_s]] = 0.0
        cost[w_cols[forced_w]] = 0.0
    integrality = np.zeros(ncol, dtype=np.int32)
    integrality[x_cols] = 1
    integrality[y_cols] = 1
    integrality[u0:w0] = 1
    col_group = np.full(ncol, -1, dtype=np.int64)
    col_group[x_cols] = flat.t_job
    col_group[s_cols] = np.arange(nj)

    rows = Rows()
    # [assign_job]
    rows.add(
        "assign_job",
        [f"assign_job[{j}]" for j in flat.job_ids],
        np.concatenate([flat.t_job, np.arange(nj)]),
        np.concatenate([x_cols, s_cols]),
        np.concatenate([ones_x, np.ones(nj)]),
        1.0,
        1.0,
    )
    # [capacity] per offering that has any variable
    used = np.unique(np.concatenate([flat.t_off, flat.r_off]))
    pos = np.full(len(flat.offering_ids), -1)
    pos[used] = np.arange(len(used))
    rows.add(
        "capacity",
        [f"capacity[{flat.offering_ids[o]}]" for o in used],
        np.concatenate([pos[flat.t_off], pos[flat.r_off]]),
        np.concatenate([x_cols, y_cols]),
        np.concatenate([flat.t_gpus, y_gpus]),
        -np.inf,
        flat.off_capacity_gpus[used],
    )
    # [power] per capped site with any variable
    x_site, y_site = flat.off_site[flat.t_off], flat.off_site[flat.r_off]
    capped = np.unique(np.concatenate([x_site, y_site]))
    capped = capped[np.isfinite(flat.site_power_cap_mw[capped])]
    pos = np.full(len(flat.site_ids), -1)
    pos[capped] = np.arange(len(capped))
    x_in, y_in = pos[x_site] >= 0, pos[y_site] >= 0
    rows.add(
        "power",
        [f"power[{flat.site_ids[s]}]" for s in capped],
        np.concatenate([pos[x_site][x_in], pos[y_site][y_in]]),
        np.concatenate([x_cols[x_in], y_cols[y_in]]),
        np.concatenate(
            [(flat.t_gpus * flat.off_mw_per_gpu[flat.t_off])[x_in], (y_gpus * flat.off_mw_per_gpu[flat.r_off])[y_in]]
        ),
        -np.inf,
        flat.site_power_cap_mw[capped],
    )
    # [demand] one row per (demand row, failure set)
    key = flat.a_dem * nf + flat.a_fail
    drow = np.searchsorted(dkeys, key)
    dem, fail = dkeys // nf, dkeys % nf
    rows.add(
        "demand",
        [
            f"demand[{flat.service_ids[flat.d_svc[d]]}|{flat.region_names[flat.d_region[d]]}|{fail_label(flat, f)}]"
            for d, f in zip(dem, fail, strict=True)
        ],
        np.concatenate([drow, np.arange(nw)]),
        np.concatenate([z_cols, w_cols]),
        np.ones(nz + nw),
        flat.d_rps[dem],
        flat.d_rps[dem],
    )
    # [serve] one row per (failure set, site): served <= rps_per_replica x replicas at the site
    ns = len(flat.site_ids)
    key = flat.a_fail * ns + flat.a_site
    skeys, srow = np.unique(key, return_inverse=True)
    s_fail, s_site = skeys // ns, skeys % ns
    y_key = flat.r_svc * ns + y_site
    order = np.argsort(y_key, kind="stable")
    row_key = flat.f_svc[s_fail] * ns + s_site
    lo = np.searchsorted(y_key[order], row_key, side="left")
    hi = np.searchsorted(y_key[order], row_key, side="right")
    owner, elems = expand_ranges(lo, hi)
    yv = order[elems]
    rows.add(
        "serve",
        [
            f"serve[{flat.service_ids[flat.f_svc[f]]}|{flat.site_ids[s]}|{fail_label(flat, f)}]"
            for f, s in zip(s_fail, s_site, strict=True)
        ],
        np.concatenate([srow, owner]),
        np.concatenate([z_cols, y_cols[yv]]),
        np.concatenate([np.ones(nz), -flat.r_rps_per_replica[yv]]),
        -np.inf,
        0.0,
    )
    # [cover] valid cut: survivors of each failure set hold at least ceil(total demand / rps_per_replica)
    # replicas. Implied for the LP only fractionally; as an integer row it closes most of the rounding gap.
    svc_demand = np.bincount(flat.d_svc, weights=flat.d_rps, minlength=len(flat.service_ids))
    cov_rows, cov_cols = [], []
    for s, fs in enumerate(f_of_svc):
        vs = np.flatnonzero(flat.r_svc == s)
        for f in fs:
            alive = vs[~np.isin(flat.off_provider[flat.r_off[vs]], list(flat.f_failed[f]))]
            cov_rows.append(np.full(len(alive), f))
            cov_cols.append(alive)
    if cov_rows:
        need = np.ceil(svc_demand[flat.f_svc] / svc_rps[flat.f_svc] - 1e-9)
        yv = np.concatenate(cov_cols)
        w_coef = need[w_fail] / np.maximum(svc_demand[flat.d_svc[w_dem]], 1e-9)
        rows.add(
            "cover",
            [f"cover[{flat.service_ids[flat.f_svc[f]]}|{fail_label(flat, f)}]" for f in range(nf)],
            np.concatenate([*cov_rows, w_fail]),
            np.concatenate([y_cols[yv], w_cols]),
            np.concatenate([np.ones(len(yv)), w_coef]),
            need,
            np.inf,
        )
    # [region_cover] same cut per (demand row, failure set): replicas at its reachable surviving sites
    if len(dkeys):
        zkey = flat.f_svc[flat.a_fail] * ns + flat.a_site
        lo = np.searchsorted(y_key[order], zkey, side="left")
        hi = np.searchsorted(y_key[order], zkey, side="right")
        owner, elems = expand_ranges(lo, hi)
        need = np.ceil(flat.d_rps[dem] / svc_rps[flat.d_svc[dem]] - 1e-9)
        rows.add(
            "region_cover",
            [f"region_cover[{n.removeprefix('demand[')}" for n in rows.names[rows.groups["demand"]]],
            np.concatenate([drow[owner], np.arange(nw)]),
            np.concatenate([y_cols[order[elems]], w_cols]),
            np.concatenate([np.ones(len(elems)), need[:nw] / np.maximum(flat.d_rps[w_dem], 1e-9)]),
            need,
            np.inf,
        )
    # [min_replicas]
    need = np.flatnonzero((flat.svc_min_replicas > 0) & np.isin(np.arange(len(flat.service_ids)), flat.r_svc))
    pos = np.full(len(flat.service_ids), -1)
    pos[need] = np.arange(len(need))
    y_in = pos[flat.r_svc] >= 0
    rows.add(
        "min_replicas",
        [f"min_replicas[{flat.service_ids[s]}]" for s in need],
        pos[flat.r_svc][y_in],
        y_cols[y_in],
        ones_y[y_in],
        flat.svc_min_replicas[need],
        np.inf,
    )
    # [counted] c_s <= sum_{v in s} y_v  (and c_s <= U_s by its bound)
    cpos = np.full(len(flat.service_ids), -1)
    cpos[c_svc] = np.arange(len(c_svc))
    y_counted = cpos[flat.r_svc] >= 0
    rows.add(
        "counted",
        [f"counted[{flat.service_ids[s]}]" for s in c_svc],
        np.concatenate([np.arange(len(c_svc)), cpos[flat.r_svc][y_counted]]),
        np.concatenate([c_cols, y_cols[y_counted]]),
        np.concatenate([np.ones(len(c_svc)), -ones_y[y_counted]]),
        -np.inf,
        0.0,
    )
    # [total_spend] / [total_gpus] (counted, see the docstring) and the provider caps
    xy_cols = np.concatenate([x_cols, y_cols])
    xy_cost = np.concatenate([flat.t_cost_usd, flat.r_cost_usd_per_replica])
    xy_gpus = np.concatenate([flat.t_gpus, y_gpus])
    xy_prov = np.concatenate([flat.off_provider[flat.t_off], flat.off_provider[flat.r_off]])
    cheapest = np.full(len(flat.service_ids), np.inf)
    np.minimum.at(cheapest, flat.r_svc, flat.r_cost_usd_per_replica)
    gpr = np.zeros(len(flat.service_ids))
    gpr[flat.r_svc] = y_gpus
    for name, total_col, coef, counted_coef, cap in (
        ("spend", t_col, xy_cost, cheapest[c_svc], sc.policy.max_provider_share_spend),
        ("gpus", g_col, xy_gpus, gpr[c_svc], sc.policy.max_provider_share_gpus),
    ):
        if cap is None:
            continue
        rows.add(
            f"total_{name}",
            [f"total_{name}"],
            np.zeros(nx + len(c_svc) + 1, dtype=np.int64),
            np.concatenate([x_cols, c_cols, [total_col]]),
            np.concatenate([coef[:nx], counted_coef, [-1.0]]),
            0.0,
            0.0,
        )
        provs = np.unique(xy_prov)
        pos = np.full(len(flat.provider_names), -1)
        pos[provs] = np.arange(len(provs))
        rows.add(
            f"{name}_cap",
            [f"{name}_cap[{flat.provider_names[p]}]" for p in provs],
            np.concatenate([pos[xy_prov], np.arange(len(provs))]),
            np.concatenate([xy_cols, np.full(len(provs), total_col)]),
            np.concatenate([coef, np.full(len(provs), -cap)]),
            -np.inf,
            0.0,
        )
    # [new_placement] y_v - M u_v <= 0
    if nu:
        rows.add(
            "new_placement",
            [f"new_placement[{_y_name(flat, v)}]" for v in u_of],
            np.concatenate([np.arange(nu), np.arange(nu)]),
            np.concatenate([y_cols[u_of], u0 + np.arange(nu)]),
            np.concatenate([np.ones(nu), -y_cap[u_of]]),
            -np.inf,
            0.0,
        )

    def cat(parts: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(parts) if parts else np.zeros(0)

    matrix = sp.csc_matrix((cat(rows.v), (cat(rows.r), cat(rows.c))), shape=(rows.n, ncol))
    col_names = (
        [
            f"x[{flat.job_ids[j]}|{flat.offering_ids[o]}|{TIERS[t].value}]"
            for j, o, t in zip(flat.t_job, flat.t_off, flat.t_tier, strict=True)
        ]
        + [f"y[{_y_name(flat, v)}]" for v in range(ny)]
        + [
            f"z[{flat.service_ids[flat.d_svc[d]]}|{flat.region_names[flat.d_region[d]]}|{flat.site_ids[s]}|"
            f"{fail_label(flat, f)}]"
            for d, s, f in zip(flat.a_dem, flat.a_site, flat.a_fail, strict=True)
        ]
        + ["total_spend_usd", "total_gpus"]
        + [f"u[{_y_name(flat, v)}]" for v in u_of]
        + [f"unplaced[{flat.job_ids[j]}]" for j in range(nj)]
        + [
            f"unserved[{flat.service_ids[flat.d_svc[d]]}|{flat.region_names[flat.d_region[d]]}|{fail_label(flat, f)}]"
            for d, f in zip(w_dem, w_fail, strict=True)
        ]
        + [f"counted_replicas[{flat.service_ids[s]}]" for s in c_svc]
    )
    return MilpModel(
        col_cost=cost,
        col_lower=lower,
        col_upper=upper,
        integrality=integrality,
        matrix=matrix,
        row_lower=cat(rows.lo),
        row_upper=cat(rows.hi),
        col_names=col_names,
        row_names=rows.names,
        cols={
            "x": slice(x0, y0),
            "y": slice(y0, z0),
            "z": slice(z0, t_col),
            "T": slice(t_col, t_col + 1),
            "G": slice(g_col, g_col + 1),
            "u": slice(u0, s0),
            "s": slice(s0, w0),
            "w": slice(w0, c0),
            "c": slice(c0, ncol),
        },
        rows=rows.groups,
        u_of=u_of,
        tie_cost=tie_cost,
        col_group=col_group,
        w_dem=w_dem,
        w_fail=w_fail,
    )


def _y_name(flat: FlatProblem, v: int) -> str:
    return f"{flat.service_ids[flat.r_svc[v]]}|{flat.offering_ids[flat.r_off[v]]}"
