"""One function per constraint family of the placement MILP (see :mod:`milp` for the formulation)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from computemoat.planner.columns import Block, Columns
from computemoat.planner.flatten import FlatProblem, caps_set, demand_keys, fail_label, key_label, key_of_assignment
from computemoat.planner.rows import Rows, expand_ranges


@dataclass(frozen=True)
class MoveSpec:
    """The current plan seen from the new model: which candidate each job has now, replicas per variable."""

    x_current: np.ndarray  # bool per training candidate: the job's current offering and tier
    y_current: np.ndarray  # int per replica variable: replicas there now (0 = a new placement)
    budget_usd: float | None = None  # stage 2: the first-stage objective may not exceed this
    slack_upper: np.ndarray | None = None  # stage 2: s and w (in block order) at most their stage-1 values


@dataclass(frozen=True)
class Rented:
    """Every column that rents GPUs: training candidates, replicas spanning instances, instances."""

    cols: np.ndarray
    off: np.ndarray
    gpus: np.ndarray  # GPUs rented per unit of the column
    cost: np.ndarray  # USD per unit of the column


@dataclass
class Context:
    flat: FlatProblem
    cols: Columns
    rows: Rows
    rented: Rented
    anti_dilution: bool = True

    @cached_property
    def nf(self) -> int:
        return max(1, len(self.flat.f_failed))

    @cached_property
    def dkeys(self) -> np.ndarray:
        return demand_keys(self.flat)

    @cached_property
    def svc_rps(self) -> np.ndarray:
        return np.array([s.rps_per_replica for s in self.flat.scenario.inference_services], dtype=float)

    @cached_property
    def y_site_order(self) -> tuple[np.ndarray, np.ndarray]:
        """(key service * sites + site of each replica variable, the order that sorts it)."""
        f = self.flat
        key = f.r_svc * len(f.site_ids) + f.off_site[f.r_off]
        return key, np.argsort(key, kind="stable")

    def y_at(self, svc_site_key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each key (service * sites + site): (owner index, replica variable) of every match."""
        key, order = self.y_site_order
        lo = np.searchsorted(key[order], svc_site_key, side="left")
        hi = np.searchsorted(key[order], svc_site_key, side="right")
        owner, elems = expand_ranges(lo, hi)
        return owner, order[elems]

    def w_cols(self) -> np.ndarray:
        return self.cols.idx(Block.w)


def assign_job(c: Context) -> None:
    """sum_{c in j} x_c (+ s_j) = 1."""
    f, s = c.flat, c.cols.idx(Block.s)
    c.rows.add(
        "assign_job",
        [f"assign_job[{j}]" for j in f.job_ids],
        np.concatenate([f.t_job, np.arange(len(s))]),
        np.concatenate([c.cols.idx(Block.x), s]),
        np.ones(len(f.t_job) + len(s)),
        1.0,
        1.0,
    )


def capacity(c: Context) -> None:
    """GPUs rented at each offering <= its capacity."""
    f, r = c.flat, c.rented
    used = np.unique(r.off)
    pos = np.full(len(f.offering_ids), -1)
    pos[used] = np.arange(len(used))
    c.rows.add(
        "capacity",
        [f"capacity[{f.offering_ids[o]}]" for o in used],
        pos[r.off],
        r.cols,
        r.gpus,
        -np.inf,
        f.off_capacity_gpus[used],
    )


def power(c: Context) -> None:
    """Facility MW of a site's rented GPUs <= its power cap."""
    f, r = c.flat, c.rented
    site = f.off_site[r.off]
    capped = np.unique(site)
    capped = capped[np.isfinite(f.site_power_cap_mw[capped])]
    pos = np.full(len(f.site_ids), -1)
    pos[capped] = np.arange(len(capped))
    keep = pos[site] >= 0
    c.rows.add(
        "power",
        [f"power[{f.site_ids[s]}]" for s in capped],
        pos[site][keep],
        r.cols[keep],
        (r.gpus * f.off_mw_per_gpu[r.off])[keep],
        -np.inf,
        f.site_power_cap_mw[capped],
    )


def pack(c: Context) -> None:
    """0 <= rpi n_v - y_v <= rpi - 1: the replicas fill whole instances and no instance is empty."""
    f, n = c.flat, c.cols.idx(Block.n)
    v = np.flatnonzero(f.r_replicas_per_instance > 1)
    rpi = f.r_replicas_per_instance[v]
    k = np.arange(len(v))
    c.rows.add(
        "pack",
        [f"pack[{f.service_ids[f.r_svc[i]]}|{f.offering_ids[f.r_off[i]]}]" for i in v],
        np.concatenate([k, k]),
        np.concatenate([n, c.cols.idx(Block.y)[v]]),
        np.concatenate([rpi, -np.ones(len(v))]),
        0.0,
        rpi - 1,
    )


def demand(c: Context) -> None:
    """sum_{a in key} z_a (+ w_key) = rps of the key, for every demand key (region, or merged regions
    under a failure set: see FlatProblem.key_dem)."""
    f = c.flat
    w = c.w_cols()
    c.rows.add(
        "demand",
        [f"demand[{key_label(f, k)}]" for k in range(len(f.key_dem))],
        np.concatenate([key_of_assignment(f), np.arange(len(w))]),
        np.concatenate([c.cols.idx(Block.z), w]),
        np.ones(len(f.a_dem) + len(w)),
        f.key_rps,
        f.key_rps,
    )


def serve(c: Context) -> None:
    """Served rps at a (service, site) under f <= rps_per_replica x replicas there."""
    f = c.flat
    ns = len(f.site_ids)
    skeys, srow = np.unique(f.a_fail * ns + f.a_site, return_inverse=True)
    s_fail, s_site = skeys // ns, skeys % ns
    owner, yv = c.y_at(f.f_svc[s_fail] * ns + s_site)
    c.rows.add(
        "serve",
        [
            f"serve[{f.service_ids[f.f_svc[k]]}|{f.site_ids[s]}|{fail_label(f, k)}]"
            for k, s in zip(s_fail, s_site, strict=True)
        ],
        np.concatenate([srow, owner]),
        np.concatenate([c.cols.idx(Block.z), c.cols.idx(Block.y)[yv]]),
        np.concatenate([np.ones(len(f.a_dem)), -f.r_rps_per_replica[yv]]),
        -np.inf,
        0.0,
    )


def _survivors(f: FlatProblem) -> list[tuple[int, np.ndarray]]:
    """Per failure set k (service by service): the replica variables whose provider survives k."""
    out: list[tuple[int, np.ndarray]] = []
    for s in range(len(f.service_ids)):
        vs = np.flatnonzero(f.r_svc == s)
        prov = f.off_provider[f.r_off[vs]]
        out.extend((int(k), vs[~np.isin(prov, list(f.f_failed[k]))]) for k in np.flatnonzero(f.f_svc == s))
    return out


def _failure_rows(
    c: Context, name: str, survivors: list[tuple[int, np.ndarray]], ycol: np.ndarray, need: np.ndarray
) -> None:
    """A row per failure set k: sum of ``ycol`` over k's survivors (+ unserved slack) >= need[k]."""
    f, nf = c.flat, c.nf
    svc_demand = np.bincount(f.d_svc, weights=f.d_rps, minlength=len(f.service_ids))
    yv = np.concatenate([alive for _, alive in survivors])
    w = c.w_cols()
    w_dem, w_fail = c.dkeys // nf, c.dkeys % nf
    w_coef = need[w_fail] / np.maximum(svc_demand[f.d_svc[w_dem]], 1e-9) if len(w) else np.zeros(0)
    c.rows.add(
        name,
        [f"{name}[{f.service_ids[f.f_svc[k]]}|{fail_label(f, k)}]" for k in range(len(f.f_failed))],
        np.concatenate([*(np.full(len(alive), k) for k, alive in survivors), w_fail[: len(w)]]),
        np.concatenate([ycol[yv], w]),
        np.concatenate([np.ones(len(yv)), w_coef]),
        need,
        np.inf,
    )


def _replicas_needed(c: Context) -> np.ndarray:
    """Per failure set: ceil(the service's total demand / rps per replica)."""
    f = c.flat
    svc_demand = np.bincount(f.d_svc, weights=f.d_rps, minlength=len(f.service_ids))
    need: np.ndarray = np.ceil(svc_demand[f.f_svc] / c.svc_rps[f.f_svc] - 1e-9)
    return need


def cover(c: Context) -> None:
    """Survivors of each failure set hold >= ceil(total demand / rps_per_replica) replicas (valid cut)."""
    if not len(c.flat.f_failed):
        return
    _failure_rows(c, "cover", _survivors(c.flat), c.cols.idx(Block.y), _replicas_needed(c))


def region_cover(c: Context) -> None:
    """Per demand key: replicas at its reachable surviving sites >= ceil(rps / rpr)."""
    f = c.flat
    if not len(f.key_dem):
        return
    drow = key_of_assignment(f)
    owner, yv = c.y_at(f.f_svc[f.a_fail] * len(f.site_ids) + f.a_site)
    need = np.ceil(f.key_rps / c.svc_rps[f.d_svc[f.key_dem]] - 1e-9)
    w = c.w_cols()
    c.rows.add(
        "region_cover",
        [f"region_cover[{key_label(f, k)}]" for k in range(len(f.key_dem))],
        np.concatenate([drow[owner], np.arange(len(w))]),
        np.concatenate([c.cols.idx(Block.y)[yv], w]),
        np.concatenate([np.ones(len(yv)), need[: len(w)] / np.maximum(f.key_rps[: len(w)], 1e-9)]),
        need,
        np.inf,
    )


def _instance_cols(c: Context) -> tuple[np.ndarray, np.ndarray]:
    """Per replica variable: the column counting its instances (n, or y where a replica is >= one
    instance, since then instances >= replicas) and its replicas per instance (1 for the latter)."""
    f = c.flat
    col = c.cols.idx(Block.y).copy()
    shared = np.flatnonzero(f.r_replicas_per_instance > 1)
    col[shared] = c.cols.idx(Block.n)
    return col, f.r_replicas_per_instance.copy()


def instance_cover(c: Context) -> None:
    """Valid cut on whole instances: survivors of f hold sum_v rpi_v n_v >= need, so sum_v n_v >=
    ceil(need / max rpi). Closes the LP's fractional-instance gap (1-GPU replicas on 8-GPU instances)."""
    f = c.flat
    if not len(f.f_failed) or not (f.r_replicas_per_instance > 1).any():
        return
    col, rpi = _instance_cols(c)
    survivors = _survivors(f)
    top = np.ones(len(f.f_failed))
    for k, alive in survivors:
        top[k] = rpi[alive].max(initial=1.0)
    _failure_rows(c, "instance_cover", survivors, col, np.ceil(_replicas_needed(c) / top - 1e-9))


def _per_service(c: Context, name: str, services: np.ndarray, lo: np.ndarray | float, hi: np.ndarray | float) -> None:
    """A row per service in ``services``: lo <= sum of its replicas <= hi."""
    f = c.flat
    pos = np.full(len(f.service_ids), -1)
    pos[services] = np.arange(len(services))
    keep = pos[f.r_svc] >= 0
    c.rows.add(
        name,
        [f"{name}[{f.service_ids[s]}]" for s in services],
        pos[f.r_svc][keep],
        c.cols.idx(Block.y)[keep],
        np.ones(int(keep.sum())),
        lo,
        hi,
    )


def min_replicas(c: Context) -> None:
    """sum_{v in s} y_v >= min_replicas_s."""
    f = c.flat
    need = np.flatnonzero((f.svc_min_replicas > 0) & np.isin(np.arange(len(f.service_ids)), f.r_svc))
    _per_service(c, "min_replicas", need, f.svc_min_replicas[need], np.inf)


def replica_bound(c: Context) -> None:
    """The anti-dilution rule: with a share cap set, sum_{v in s} y_v <= U_s."""
    f = c.flat
    if not caps_set(f.scenario) or not c.anti_dilution:
        return
    svcs = np.unique(f.r_svc)
    _per_service(c, "replica_bound", svcs, -np.inf, f.svc_replica_bound[svcs])


def share_caps(c: Context) -> None:
    """T = real spend, G = real GPUs rented; each provider's spend <= cap T and GPUs <= cap G."""
    f, r, pol = c.flat, c.rented, c.flat.scenario.policy
    prov = f.off_provider[r.off]
    for name, block, coef, cap in (
        ("spend", Block.T, r.cost, pol.max_provider_share_spend),
        ("gpus", Block.G, r.gpus, pol.max_provider_share_gpus),
    ):
        if cap is None:
            continue
        total = c.cols[block].start
        c.rows.add(
            f"total_{name}",
            [f"total_{name}"],
            np.zeros(len(r.cols) + 1, dtype=np.int64),
            np.concatenate([r.cols, [total]]),
            np.concatenate([coef, [-1.0]]),
            0.0,
            0.0,
        )
        provs = np.unique(prov)
        pos = np.full(len(f.provider_names), -1)
        pos[provs] = np.arange(len(provs))
        c.rows.add(
            f"{name}_cap",
            [f"{name}_cap[{f.provider_names[p]}]" for p in provs],
            np.concatenate([pos[prov], np.arange(len(provs))]),
            np.concatenate([r.cols, np.full(len(provs), total)]),
            np.concatenate([coef, np.full(len(provs), -cap)]),
            -np.inf,
            0.0,
        )


def changed(c: Context, moves: MoveSpec) -> None:
    """m_v = 1 when y_v differs from the current replicas: y - old <= M m and old - y <= old m."""
    f = c.flat
    ny = len(f.r_svc)
    m = c.cols.add(
        Block.m,
        ny,
        lambda: [f"changed[{f.service_ids[f.r_svc[v]]}|{f.offering_ids[f.r_off[v]]}]" for v in range(ny)],
        upper=1.0,
        integer=True,
    )
    y = c.cols.idx(Block.y)
    old = moves.y_current.astype(float)
    big = np.maximum(c.cols.arrays()[2][y], 1.0)
    k = np.arange(ny)
    names = [f"changed[{v}]" for v in range(ny)]
    c.rows.add(
        "changed_up",
        names,
        np.concatenate([k, k]),
        np.concatenate([y, m]),
        np.concatenate([np.ones(ny), -np.minimum(big, 1e7)]),
        -np.inf,
        old,
    )
    c.rows.add(
        "changed_down",
        names,
        np.concatenate([k, k]),
        np.concatenate([y, m]),
        np.concatenate([np.ones(ny), old]),
        old,
        np.inf,
    )


def budget(c: Context, stage1_cost: np.ndarray, budget_usd: float) -> None:
    """The first-stage objective (cost with penalties) stays within the stated tolerance."""
    nz = np.flatnonzero(stage1_cost)
    c.rows.add("budget", ["budget"], np.zeros(len(nz), dtype=np.int64), nz, stage1_cost[nz], -np.inf, budget_usd)
