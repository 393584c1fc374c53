r"""The multi-period placement MILP, built from :class:`HorizonProblem` arrays.

Sets
    T periods t (H hours each, NPV factor δ_t = (1 + r)^-years(t)); O offerings; P providers;
    C training candidates c = (job, offering o, tier ∈ {on-demand, spot, committed}, start s_c), occupying
    periods occ(c) = s_c .. s_c + L_c - 1 with h_ct hours run in each (expected wall-clock hours);
    V unit variables v = (service, offering, tier ∈ {on-demand, committed}); a unit is g_v GPUs holding
    ρ_v replicas (whole instances); D demand rows d = (service, region), F failure sets f of a service,
    A assignments a = (d, site, f) (within SLO, residency allowed, site's provider not in f);
    K commitment options k (offering o_k, term L_k, price c_k $/GPU-h, take-or-pay share θ_k, upfront a_k,
    minimum m_k GPUs, instance size g_k), signable at starts s ∈ S_k; active at t when s <= t < s + L_k.

Variables
    x_c ∈ {0,1}          job placed on candidate c
    u_vt ∈ Z+            units of v rented in period t
    z_at >= 0            requests/s of demand row d(a) served by site(a) while failure set f(a) is down
    n_ks ∈ Z+            instances committed by option k signed at s (g_k n_ks GPUs)
    b_ks ∈ {0,1}         option k signed at s (only when m_k > 0)
    w_kst, e_kst >= 0    GPUs of the commitment used in t; used GPUs above the take-or-pay floor
    G_t, S_t (or S)      total rented GPUs per period, total spend per period (or over the horizon)

Spend (nominal USD, per provider and period; the objective discounts each entry by δ_t)
    on-demand/spot job: gpus_c h_ct price_o,tier,t in each t ∈ occ(c); egress (dataset in, checkpoints
    home) in s_c; unit: g_v H price_o,t; commitment: a_k g_k n_ks in s, and in every active t
    c_k H (θ_k g_k n_ks + e_kst) — the floor is paid whether used or not (take-or-pay).

Objective
    min Σ_entries δ_t spend

Constraints (row names in brackets)
    [assign_job]    Σ_{c ∈ j} x_c = 1
    [capacity]      per (o, t): Σ_{c ∉ committed, t ∈ occ(c)} gpus_c x_c + Σ_{v on-demand} g_v u_vt
                    + Σ_{k,s active} g_k n_ks <= capacity_o,t   (committed GPUs hold capacity used or not)
    [power]         per (site, t): the same GPUs x board W x PUE / 1e6 <= power_capacity_mw
    [pool]          per (o, t): Σ_{c committed, t ∈ occ(c)} gpus_c x_c + Σ_{v committed} g_v u_vt
                    <= Σ_{k at o, s active} w_kst
    [commit_use]    w_kst <= g_k n_ks;   [take_or_pay]  w_kst - θ_k g_k n_ks <= e_kst
    [commit_min]    g_k n_ks >= m_k b_ks;  [commit_sign]  n_ks <= N_k b_ks   (all or at least the minimum)
    [demand]        per (d, f, t): Σ_a z_at = rps_d x scale_s,t   (under f, d is a group of regions that
                    reach the same surviving sites, rps_d their sum: the same transportation problem)
    [serve]         per (f, site, t): Σ_a z_at <= rps_per_replica_s Σ_{v at site} ρ_v u_vt   (N+k: every f)
    [cover]         per (f, t): Σ_{v alive under f} ρ_v u_vt >= ceil(Σ_r rps x scale / rps_per_replica)
    [region_cover]  per (d, f, t): Σ_{v at sites of (d, f)} ρ_v u_vt >= ceil(rps_d x scale / rps_per_replica)
                    (valid cuts, implied in integers by [demand] + [serve]; they tighten the LP bound)
    [region_units]  per (d, f, t) when its units hold up to ρ_max > 1 replicas: Σ_{v at sites of (d, f)} u_vt
                    >= ceil(region_cover's right side / ρ_max)   (valid: ρ_max Σ u >= Σ ρ u; lifts the bound);
    [cover_units]   the same for [cover]
    [min_replicas]  per (s, t): Σ_v ρ_v u_vt >= min_replicas_s
    [replica_bound] (with a provider cap) per (s, t): Σ_v ρ_v u_vt <= U_st + max_v ρ_v - 1,
                    U_st = max(min_replicas, (1 + k_s) Σ_r ceil(rps x scale / rps_per_replica)).
                    The anti-dilution rule: no service rents more replicas than its N+k coverage could
                    use, region by region (plus the rounding of one unit), so a cap cannot be met by
                    buying idle replicas elsewhere. Caps then compare real rented GPUs and real spend.
    [gpu_cap]       per (p, t): GPUs rented from p in t <= cap_gpus x G_t   (G_t = all rented GPUs in t), or
                    with ``gpu_cap_scope: horizon`` GPU-periods over the horizon against all GPU-periods
    [spend_cap]     per (p, t) or per p (``spend_cap_scope``): spend with p <= cap_spend x S (same scope)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from computemoat.model import CapScope
from computemoat.planner.horizon.columns import Columns
from computemoat.planner.horizon.problem import HorizonProblem
from computemoat.planner.horizon.training import COMMITTED, TIER_NAMES
from computemoat.planner.rows import Rows, expand_ranges


class Entries:
    """(column, period, key, value) quadruples: rented GPUs (key offering), pool draws (key offering),
    spend (key provider). Constraint families group them."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, col: np.ndarray, t: np.ndarray, key: np.ndarray, val: np.ndarray | float) -> None:
        col = np.asarray(col, dtype=np.int64)
        self.parts.append(
            (
                col,
                np.broadcast_to(np.asarray(t, dtype=np.int64), col.shape),
                np.broadcast_to(np.asarray(key, dtype=np.int64), col.shape),
                np.broadcast_to(np.asarray(val, dtype=float), col.shape),
            )
        )

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if not self.parts:
            z = np.zeros(0, dtype=np.int64)
            return z, z, z, np.zeros(0)
        return tuple(np.concatenate([p[i] for p in self.parts]) for i in range(4))  # type: ignore[return-value]


@dataclass(frozen=True)
class HorizonModel:
    """A model ready for HiGHS, plus the index maps the decoder needs."""

    problem: HorizonProblem
    col_cost: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    integrality: np.ndarray
    matrix: sp.csc_matrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    col_names: list[str]
    col_period: np.ndarray  # last period each column's decision belongs to (Columns.period)
    row_names: list[str]
    blocks: dict[str, slice]
    rows: dict[str, slice]
    spend: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # col, t, provider, usd (nominal)
    rented: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # col, t, offering, GPUs
    pool: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # col, t, offering, GPUs drawn (w: -1)
    ks_k: np.ndarray  # commitment decision (k, s) of each n column
    ks_s: np.ndarray
    kst: np.ndarray  # (k, s) decision index of each w/e column
    kst_t: np.ndarray


def build(p: HorizonProblem) -> HorizonModel:
    """Assemble the MILP above."""
    cols, rows = Columns(), Rows()
    rented, pool, spend = Entries(), Entries(), Entries()
    _training(p, cols, rented, pool, spend)
    _units(p, cols, rented, pool, spend)
    ks_k, ks_s, kst, kst_t = _commitments(p, cols, rows, rented, pool, spend)
    _assignments(p, cols)
    _assign_job(p, cols, rows)
    _capacity_power_pool(p, rows, rented, pool)
    _inference_rows(p, cols, rows)
    pol = p.scenario.policy
    if pol.max_provider_share_gpus is not None:
        _gpu_cap(p, cols, rows, rented, pol.max_provider_share_gpus)
    if pol.max_provider_share_spend is not None:
        _spend_cap(p, cols, rows, spend, pol.max_provider_share_spend)
    s_col, s_t, _, s_usd = spend.arrays()
    cost = cols.cost()
    np.add.at(cost, s_col, p.grid.discount[s_t] * s_usd)
    lower, upper = cols.lower(), cols.upper()
    matrix = sp.csc_matrix((cat(rows.v), (cat(rows.r), cat(rows.c))), shape=(rows.n, cols.n))
    return HorizonModel(
        problem=p,
        col_cost=cost,
        col_lower=lower,
        col_upper=upper,
        integrality=cols.integrality(),
        matrix=matrix,
        row_lower=cat(rows.lo),
        row_upper=cat(rows.hi),
        col_names=cols.names,
        col_period=cols.period(),
        row_names=rows.names,
        blocks=cols.blocks,
        rows=rows.groups,
        spend=spend.arrays(),
        rented=rented.arrays(),
        pool=pool.arrays(),
        ks_k=ks_k,
        ks_s=ks_s,
        kst=kst,
        kst_t=kst_t,
    )


def cat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0)


def per_period(block_start: int, items: np.ndarray, n: int) -> np.ndarray:
    """Columns of items of a per-period block laid out item-major: [item, t] -> start + item * n + t."""
    return block_start + np.asarray(items, dtype=np.int64)[:, None] * n + np.arange(n)[None, :]


# -- column blocks ------------------------------------------------------------------------------------
def _training(p: HorizonProblem, cols: Columns, rented: Entries, pool: Entries, spend: Entries) -> None:
    tc, sc = p.train, p.scenario
    names = [
        f"x[{sc.training_jobs[j].id}|{p.offs.ids[o]}|{TIER_NAMES[t]}|p{s}]"
        for j, o, t, s in zip(tc.job, tc.off, tc.tier, tc.start, strict=True)
    ]
    x = cols.add("x", names, upper=1.0, integer=True, period=tc.start + tc.periods - 1)
    committed = tc.tier[tc.e_c] == COMMITTED
    for mask, entries in ((~committed, rented), (committed, pool)):
        c = tc.e_c[mask]
        entries.add(x[c], tc.e_t[mask], tc.off[c], tc.gpus[c])
    spend.add(x[tc.s_c], tc.s_t, tc.s_p, tc.s_usd)


def _units(p: HorizonProblem, cols: Columns, rented: Entries, pool: Entries, spend: Entries) -> None:
    inf, n, offs = p.inf, p.grid.n, p.offs
    names = [
        f"u[{p.scenario.inference_services[s].id}|{offs.ids[o]}|{'committed' if t else 'on_demand'}|p{k}]"
        for s, o, t in zip(inf.v_svc, inf.v_off, inf.v_tier, strict=True)
        for k in range(n)
    ]
    upper = np.floor(p.grid.capacity_gpus[inf.v_off] / inf.v_gpus[:, None]).ravel()
    every_t = np.tile(np.arange(n), len(inf.v_svc))
    u = cols.add("u", names, upper=upper, integer=True, period=every_t).reshape(-1, n)
    t = np.broadcast_to(np.arange(n), u.shape)
    off = np.broadcast_to(inf.v_off[:, None], u.shape)
    gpus = np.broadcast_to(inf.v_gpus[:, None], u.shape)
    od = inf.v_tier == 0
    rented.add(u[od].ravel(), t[od].ravel(), off[od].ravel(), gpus[od].ravel())
    pool.add(u[~od].ravel(), t[~od].ravel(), off[~od].ravel(), gpus[~od].ravel())
    price = offs.usd_per_gpu_hour[inf.v_off[od], 0, :]  # [v, t]
    spend.add(u[od].ravel(), t[od].ravel(), offs.provider[off[od].ravel()], (gpus[od] * p.grid.hours * price).ravel())


def _assignments(p: HorizonProblem, cols: Columns) -> None:
    inf, n = p.inf, p.grid.n
    scale = p.grid.demand_scale[inf.d_svc[inf.a_dem]]  # [a, t]
    names = [f"z[{a}|p{t}]" for a in range(len(inf.a_dem)) for t in range(n)]
    cols.add("z", names, upper=(inf.a_rps[:, None] * scale).ravel(), period=np.tile(np.arange(n), len(inf.a_dem)))


def _commitments(
    p: HorizonProblem, cols: Columns, rows: Rows, rented: Entries, pool: Entries, spend: Entries
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    cm, offs, grid = p.commits, p.offs, p.grid
    pairs = [(k, s) for k, starts in enumerate(cm.starts) for s in starts]
    ks_k = np.array([k for k, _ in pairs], dtype=np.int64)
    ks_s = np.array([s for _, s in pairs], dtype=np.int64)
    if not pairs:
        e = np.zeros(0, dtype=np.int64)
        return ks_k, ks_s, e, e
    opt = [cm.options[k] for k in ks_k]
    off = cm.offering[ks_k]
    gpi = offs.gpus_per_instance[off].astype(float)
    term = np.array([o.term_periods for o in opt], dtype=np.int64)
    cap_max = np.array(
        [grid.capacity_gpus[o, s : s + L].min() for o, s, L in zip(off, ks_s, term, strict=True)], dtype=float
    )
    top = np.array([o.max_gpus or np.inf for o in opt], dtype=float)
    n_upper = np.floor(np.minimum(cap_max, top) / gpi)
    n = cols.add(
        "n", [f"n[{o.id}|p{s}]" for o, s in zip(opt, ks_s, strict=True)], upper=n_upper, integer=True, period=ks_s
    )
    prov = offs.provider[off]
    spend.add(n, ks_s, prov, np.array([o.upfront_usd_per_gpu for o in opt]) * gpi)
    # (k, s, t) triples over each term
    kst = np.repeat(np.arange(len(pairs)), term)
    kst_t = ks_s[kst] + (np.arange(len(kst)) - np.repeat(np.cumsum(term) - term, term))
    price = np.array([o.usd_per_gpu_hour for o in opt])[kst]
    theta = np.array([o.take_or_pay_share for o in opt])[kst]
    rented.add(n[kst], kst_t, off[kst], gpi[kst])
    spend.add(n[kst], kst_t, prov[kst], grid.hours * price * theta * gpi[kst])
    tnames = [f"{opt[i].id}|p{ks_s[i]}|p{t}" for i, t in zip(kst, kst_t, strict=True)]
    w = cols.add("w", [f"w[{s}]" for s in tnames], period=kst_t)
    e = cols.add("e", [f"e[{s}]" for s in tnames], period=kst_t)
    spend.add(e, kst_t, prov[kst], grid.hours * price)
    pool.add(w, kst_t, off[kst], -1.0)
    m = len(kst)
    rows.add("commit_use", [f"commit_use[{s}]" for s in tnames], np.tile(np.arange(m), 2),
             np.concatenate([w, n[kst]]), np.concatenate([np.ones(m), -gpi[kst]]), -np.inf, 0.0)  # fmt: skip
    rows.add("take_or_pay", [f"take_or_pay[{s}]" for s in tnames], np.tile(np.arange(m), 3),
             np.concatenate([w, n[kst], e]), np.concatenate([np.ones(m), -theta * gpi[kst], -np.ones(m)]),
             -np.inf, 0.0)  # fmt: skip
    minimum = np.array([o.min_gpus for o in opt], dtype=float)
    need = np.flatnonzero(minimum > 0)
    if len(need):
        b = cols.add("b", [f"b[{opt[i].id}|p{ks_s[i]}]" for i in need], upper=1.0, integer=True, period=ks_s[need])
        q = len(need)
        rows.add("commit_min", [f"commit_min[{opt[i].id}|p{ks_s[i]}]" for i in need], np.tile(np.arange(q), 2),
                 np.concatenate([n[need], b]), np.concatenate([gpi[need], -minimum[need]]), 0.0, np.inf)  # fmt: skip
        rows.add("commit_sign", [f"commit_sign[{opt[i].id}|p{ks_s[i]}]" for i in need], np.tile(np.arange(q), 2),
                 np.concatenate([n[need], b]), np.concatenate([np.ones(q), -n_upper[need]]), -np.inf, 0.0)  # fmt: skip
    return ks_k, ks_s, kst, kst_t


# -- constraint families ------------------------------------------------------------------------------
def _group(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    uniq, inv = np.unique(keys, return_inverse=True)
    return uniq, inv


def _assign_job(p: HorizonProblem, cols: Columns, rows: Rows) -> None:
    x = cols.block("x")
    rows.add("assign_job", [f"assign_job[{j.id}]" for j in p.scenario.training_jobs], p.train.job, x,
             np.ones(len(x)), 1.0, 1.0)  # fmt: skip


def _capacity_power_pool(p: HorizonProblem, rows: Rows, rented: Entries, pool: Entries) -> None:
    n, offs = p.grid.n, p.offs
    col, t, off, gpus = rented.arrays()
    keys, inv = _group(off * n + t)
    rows.add("capacity", [f"capacity[{offs.ids[k // n]}|p{k % n}]" for k in keys], inv, col, gpus, -np.inf,
             p.grid.capacity_gpus[keys // n, keys % n])  # fmt: skip
    site = offs.site[off]
    capped = np.isfinite(offs.site_power_mw[site])
    keys, inv = _group(site[capped] * n + t[capped])
    rows.add("power", [f"power[{p.scenario.sites[k // n].id}|p{k % n}]" for k in keys], inv, col[capped],
             (gpus * offs.mw_per_gpu[off])[capped], -np.inf, offs.site_power_mw[keys // n])  # fmt: skip
    col, t, off, gpus = pool.arrays()
    keys, inv = _group(off * n + t)
    rows.add("pool", [f"pool[{offs.ids[k // n]}|p{k % n}]" for k in keys], inv, col, gpus, -np.inf, 0.0)


def _tile(rows: Rows, group: str, names1: list[str], r1: np.ndarray, c1: np.ndarray, v1: np.ndarray,
          lo: np.ndarray | float, hi: np.ndarray | float, n: int) -> None:  # fmt: skip
    """Add a family defined once per period: row r1 -> r1 * n + t, per-period column c1 -> c1 + t."""
    t = np.arange(n)
    rows.add(
        group,
        [f"{name}|p{k}]" for name in names1 for k in range(n)],
        (r1[:, None] * n + t).ravel(),
        (c1[:, None] + t).ravel(),
        np.repeat(v1, n),
        lo,
        hi,
    )


def _inference_rows(p: HorizonProblem, cols: Columns, rows: Rows) -> None:
    inf, n, sc = p.inf, p.grid.n, p.scenario
    if not len(inf.v_svc):
        return
    u0, z0 = cols.blocks["u"].start, cols.blocks["z"].start
    uc = u0 + np.arange(len(inf.v_svc)) * n  # column of (v, period 0)
    zc = z0 + np.arange(len(inf.a_dem)) * n
    rpr = inf.svc_rps_per_replica
    svc_ids = [s.id for s in sc.inference_services]
    scale = p.grid.demand_scale
    nf, ns = len(inf.f_failed), len(sc.sites)
    label = [
        ("nominal" if not f else "without " + "+".join(p.provider_names[q] for q in sorted(f))) for f in inf.f_failed
    ]
    # [demand] per (d, f)
    dkeys, drow = _group(inf.a_dem * nf + inf.a_fail)
    dd, df = dkeys // nf, dkeys % nf
    first = np.zeros(len(dkeys), dtype=np.int64)
    first[drow[::-1]] = np.arange(len(drow))[::-1]  # an assignment of each key: its rps is the key's
    key_rps = inf.a_rps[first]
    rhs = (key_rps[:, None] * scale[inf.d_svc[dd]]).ravel()
    names = [
        f"demand[{svc_ids[inf.d_svc[d]]}|{sc.user_regions[inf.d_region[d]].name}|{label[f]}"
        for d, f in zip(dd, df, strict=True)
    ]
    _tile(rows, "demand", names, drow, zc, np.ones(len(zc)), rhs, rhs, n)
    # [serve] per (f, site)
    v_site = p.offs.site[inf.v_off]
    skeys, srow = _group(inf.a_fail * ns + inf.a_site)
    sf, ss = skeys // ns, skeys % ns
    v_key = inf.v_svc * ns + v_site
    order = np.argsort(v_key, kind="stable")
    lo = np.searchsorted(v_key[order], inf.f_svc[sf] * ns + ss, side="left")
    hi = np.searchsorted(v_key[order], inf.f_svc[sf] * ns + ss, side="right")
    owner, elems = expand_ranges(lo, hi)
    vv = order[elems]
    names = [f"serve[{svc_ids[inf.f_svc[f]]}|{sc.sites[s].id}|{label[f]}" for f, s in zip(sf, ss, strict=True)]
    _tile(rows, "serve", names, np.concatenate([srow, owner]), np.concatenate([zc, uc[vv]]),
          np.concatenate([np.ones(len(zc)), -rpr[inf.v_svc[vv]] * inf.v_replicas[vv]]), -np.inf, 0.0, n)  # fmt: skip
    # [cover] per f
    svc_demand = np.zeros(len(svc_ids))
    np.add.at(svc_demand, inf.d_svc, inf.d_rps)
    r_rows, r_cols = [], []
    for f in range(nf):
        alive = np.flatnonzero(
            (inf.v_svc == inf.f_svc[f]) & ~np.isin(p.offs.provider[inf.v_off], list(inf.f_failed[f]))
        )
        r_rows.append(np.full(len(alive), f))
        r_cols.append(alive)
    if nf:
        vv = np.concatenate(r_cols)
        need = np.ceil(svc_demand[inf.f_svc][:, None] * scale[inf.f_svc] / rpr[inf.f_svc][:, None] - 1e-9).ravel()
        cover_names = [f"{svc_ids[inf.f_svc[f]]}|{label[f]}" for f in range(nf)]
        _tile(rows, "cover", [f"cover[{nm}" for nm in cover_names], np.concatenate(r_rows),
              uc[vv], inf.v_replicas[vv], need, np.inf, n)  # fmt: skip
        _unit_cuts(rows, "cover_units", cover_names, np.concatenate(r_rows), uc[vv], inf.v_replicas[vv], need, nf, n)
    # [region_cover] per (d, f): units at the sites its assignments reach
    a_key = inf.f_svc[inf.a_fail] * ns + inf.a_site
    lo = np.searchsorted(v_key[order], a_key, side="left")
    hi = np.searchsorted(v_key[order], a_key, side="right")
    owner, elems = expand_ranges(lo, hi)
    vv = order[elems]
    need = np.ceil(key_rps[:, None] * scale[inf.d_svc[dd]] / rpr[inf.d_svc[dd]][:, None] - 1e-9).ravel()
    names = [
        f"{svc_ids[inf.d_svc[d]]}|{sc.user_regions[inf.d_region[d]].name}|{label[f]}"
        for d, f in zip(dd, df, strict=True)
    ]
    _tile(rows, "region_cover", [f"region_cover[{nm}" for nm in names], drow[owner], uc[vv], inf.v_replicas[vv], need,
          np.inf, n)  # fmt: skip
    _unit_cuts(rows, "region_units", names, drow[owner], uc[vv], inf.v_replicas[vv], need, len(dkeys), n)
    _replica_rows(p, rows, uc)


def _unit_cuts(rows: Rows, group: str, names: list[str], r1: np.ndarray, c1: np.ndarray, rho: np.ndarray,
               need: np.ndarray, keys: int, n: int) -> None:  # fmt: skip
    """[region_units] / [cover_units]: for each row of [region_cover] / [cover] (Σ ρ_v u_vt >= need) whose
    units hold up to ρ_max > 1 replicas, Σ_v u_vt >= ceil(need / ρ_max). Valid (ρ_max Σ u >= Σ ρ u >= need,
    and Σ u is whole); it lifts the LP bound where a few replicas need a whole 8-replica unit, which the
    LP would rent an eighth of."""
    rho_max = np.zeros(keys)
    np.maximum.at(rho_max, r1, rho)
    big = np.flatnonzero(rho_max > 1)
    if not len(big):
        return
    pos = np.full(keys, -1)
    pos[big] = np.arange(len(big))
    mine = pos[r1] >= 0
    units = np.ceil(need.reshape(keys, n)[big] / rho_max[big][:, None] - 1e-9).ravel()
    _tile(rows, group, [f"{group}[{names[k]}" for k in big], pos[r1[mine]], c1[mine], np.ones(int(mine.sum())),
          units, np.inf, n)  # fmt: skip


def _replica_rows(p: HorizonProblem, rows: Rows, uc: np.ndarray) -> None:
    inf, n, sc = p.inf, p.grid.n, p.scenario
    svcs = np.unique(inf.v_svc)
    pos = np.full(len(sc.inference_services), -1)
    pos[svcs] = np.arange(len(svcs))
    names = [sc.inference_services[s].id for s in svcs]
    need = np.flatnonzero(inf.svc_min_replicas[svcs] > 0)
    v_in = np.isin(pos[inf.v_svc], need)
    if len(need):
        rpos = np.full(len(svcs), -1)
        rpos[need] = np.arange(len(need))
        _tile(rows, "min_replicas", [f"min_replicas[{names[i]}" for i in need], rpos[pos[inf.v_svc[v_in]]],
              uc[v_in], inf.v_replicas[v_in], np.repeat(inf.svc_min_replicas[svcs[need]], n), np.inf, n)  # fmt: skip
    pol = sc.policy
    if pol.max_provider_share_gpus is None and pol.max_provider_share_spend is None:
        return
    per_region = np.zeros((len(sc.inference_services), n))
    scale = p.grid.demand_scale
    np.add.at(
        per_region,
        inf.d_svc,
        np.ceil(inf.d_rps[:, None] * scale[inf.d_svc] / inf.svc_rps_per_replica[inf.d_svc][:, None] - 1e-9),
    )
    bound = np.maximum((1 + inf.svc_k[:, None]) * per_region, inf.svc_min_replicas[:, None])
    max_rpu = np.zeros(len(sc.inference_services))
    np.maximum.at(max_rpu, inf.v_svc, inf.v_replicas)
    hi = (bound + max_rpu[:, None] - 1)[svcs].ravel()
    _tile(rows, "replica_bound", [f"replica_bound[{nm}" for nm in names], pos[inf.v_svc], uc, inf.v_replicas,
          -np.inf, hi, n)  # fmt: skip


def _gpu_cap(p: HorizonProblem, cols: Columns, rows: Rows, rented: Entries, cap: float) -> None:
    h = p.scenario.horizon
    per_period = h is None or h.gpu_cap_scope == CapScope.period
    n = p.grid.n if per_period else 1
    col, t, off, gpus = rented.arrays()
    t = t if per_period else np.zeros_like(t)
    g = cols.add("G", [f"total_gpus[p{k}]" for k in range(n)])
    rows.add("total_gpus", [f"total_gpus[p{k}]" for k in range(n)], np.concatenate([t, np.arange(n)]),
             np.concatenate([col, g]), np.concatenate([gpus, -np.ones(n)]), 0.0, 0.0)  # fmt: skip
    prov = p.offs.provider[off]
    keys, inv = _group(prov * n + t)
    rows.add("gpu_cap", [f"gpu_cap[{p.provider_names[k // n]}|p{k % n}]" for k in keys],
             np.concatenate([inv, np.arange(len(keys))]), np.concatenate([col, g[keys % n]]),
             np.concatenate([gpus, np.full(len(keys), -cap)]), -np.inf, 0.0)  # fmt: skip


def _spend_cap(p: HorizonProblem, cols: Columns, rows: Rows, spend: Entries, cap: float) -> None:
    h = p.scenario.horizon
    per_period = h is not None and h.spend_cap_scope == CapScope.period
    n = p.grid.n if per_period else 1
    col, t, prov, usd = spend.arrays()
    t = t if per_period else np.zeros_like(t)
    s = cols.add("S", [f"total_spend[p{k}]" for k in range(n)])
    rows.add("total_spend", [f"total_spend[p{k}]" for k in range(n)], np.concatenate([t, np.arange(n)]),
             np.concatenate([col, s]), np.concatenate([usd, -np.ones(n)]), 0.0, 0.0)  # fmt: skip
    keys, inv = _group(prov * n + t)
    rows.add("spend_cap", [f"spend_cap[{p.provider_names[k // n]}|p{k % n}]" for k in keys],
             np.concatenate([inv, np.arange(len(keys))]), np.concatenate([col, s[keys % n]]),
             np.concatenate([usd, np.full(len(keys), -cap)]), -np.inf, 0.0)  # fmt: skip


def whole(x: float) -> int:
    """Nearest whole number of a solver value that should be integral."""
    return math.floor(x + 0.5)
